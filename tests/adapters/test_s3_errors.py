"""obstore's errors mapped to skyhaul's: one row per kind of failure, with the texts
obstore 0.12 gives them (its only structure), and what each becomes."""

from __future__ import annotations

import pytest
from obstore import exceptions as oe

from skyhaul.adapters.s3_errors import map_s3_errors, s3_error
from skyhaul.errors import (
    ClientError,
    ConnectError,
    ReadTimeoutError,
    RemoteChangedError,
    ServerError,
    ThrottledError,
    TransferError,
)

URL = "s3://bucket/raw/a.fits"
_GET = "Generic S3 error: Error performing GET http://127.0.0.1:1/bucket/raw/a.fits in 1ms - "


def _status(status: int, reason: str, code: str = "") -> str:
    body = f"<Error><Code>{code}</Code></Error>" if code else ""
    return f"{_GET}Server returned non-2xx status code: {status} {reason}: {body}"


def _kind(kind: str) -> str:
    debug = f"Generic {{\n    source: HttpError {{\n        kind: {kind},\n"
    return f"Generic S3 error: HTTP error\n\nDebug source:\n{debug}"


@pytest.mark.parametrize(
    ("raised", "error", "status", "shown"),
    [
        (
            FileNotFoundError("Object at location raw/a.fits not found"),
            ClientError,
            404,
            "NoSuchKey",
        ),
        (oe.PreconditionError("412"), RemoteChangedError, 412, "changed"),
        (oe.PermissionDeniedError("403"), ClientError, 403, "AccessDenied"),
        (oe.UnauthenticatedError("401"), ClientError, 403, "AccessDenied"),
        (oe.InvalidPathError("bad"), ClientError, 400, "invalid S3 key"),
        (
            oe.GenericError(_status(503, "Service Unavailable", "SlowDown")),
            ThrottledError,
            503,
            "SlowDown",
        ),
        (oe.GenericError(_status(429, "Too Many Requests")), ThrottledError, 429, "S3 429"),
        (
            oe.GenericError(_status(500, "Internal Server Error", "InternalError")),
            ServerError,
            500,
            "InternalError",
        ),
        (oe.GenericError(_status(408, "Request Timeout")), ServerError, 408, "S3 408"),
        (
            oe.GenericError(_status(416, "Range Not Satisfiable", "InvalidRange")),
            RemoteChangedError,
            416,
            "InvalidRange",
        ),
        (
            oe.GenericError(_status(400, "Bad Request", "InvalidArgument")),
            ClientError,
            400,
            "InvalidArgument",
        ),
        (
            oe.GenericError(
                f"{_GET}Received redirect without LOCATION, this normally indicates an"
                " incorrectly configured region"
            ),
            ClientError,
            301,
            "AWS_REGION",
        ),
        (oe.GenericError(_kind("Connect")), ConnectError, None, "cannot connect"),
        (oe.GenericError(_kind("Request")), ConnectError, None, "connection failed"),
        (oe.GenericError(_kind("Interrupted")), ConnectError, None, "body cut short"),
        (oe.GenericError(_kind("Decode")), ConnectError, None, "unreadable body"),
        (oe.GenericError(_kind("Timeout")), ReadTimeoutError, None, "timed out"),
        (oe.GenericError("something new"), ServerError, None, "GenericError"),
        (TimeoutError(), ReadTimeoutError, None, "timed out"),
    ],
)
def test_obstore_errors_become_skyhaul_errors(
    raised: BaseException, error: type[TransferError], status: int | None, shown: str
) -> None:
    with pytest.raises(error) as caught, map_s3_errors(URL):
        raise raised
    assert type(caught.value) is error
    assert caught.value.status == status
    assert shown in str(caught.value)
    assert URL in str(caught.value)
    assert "127.0.0.1" not in str(caught.value)  # the endpoint's own text stays out


def test_foreign_errors_pass_through_untouched() -> None:
    assert s3_error(KeyError("x"), URL) is None
    with pytest.raises(KeyError), map_s3_errors(URL):
        raise KeyError("x")
    mine = ConnectError("already ours")
    with pytest.raises(ConnectError) as caught, map_s3_errors(URL):
        raise mine
    assert caught.value is mine


def test_urls_are_redacted_in_messages() -> None:
    signed = "s3://bucket/a.fits?X-Amz-Signature=abcdef"
    error = s3_error(oe.GenericError(_status(500, "Internal Server Error")), signed)
    assert error is not None
    assert "abcdef" not in str(error)
    assert "X-Amz-Signature=REDACTED" in str(error)
