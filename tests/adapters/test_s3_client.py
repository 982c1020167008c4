"""boto3's S3 client: configured from the transport's access, its errors mapped to skyhaul's."""

from __future__ import annotations

import pytest
from botocore import UNSIGNED
from botocore import exceptions as be

from skyhaul.adapters.locations import S3Location
from skyhaul.adapters.s3 import S3Settings, S3Transport
from skyhaul.adapters.s3_access import AwsCredentials, S3Access
from skyhaul.adapters.s3_client import boto3_client, boto_error, map_boto_errors
from skyhaul.errors import (
    ClientError,
    ConfigError,
    ConnectError,
    ReadTimeoutError,
    ServerError,
    ThrottledError,
)
from skyhaul.sim.s3_thread import S3SimThread

from .conftest import unsigned_transport

URL = "s3://bucket/pkg/a.tar"


def _answer(status: int, code: str) -> be.ClientError:
    response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return be.ClientError(response, "UploadPart")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raised", "error", "shown"),
    [
        (_answer(503, "SlowDown"), ThrottledError, "S3 503 SlowDown from s3://bucket/pkg/a.tar"),
        (_answer(500, "InternalError"), ServerError, "S3 500 InternalError from"),
        (_answer(403, "AccessDenied"), ClientError, "S3 403 AccessDenied from"),
        (_answer(404, "NoSuchUpload"), ClientError, "S3 404 NoSuchUpload from"),
        (be.EndpointConnectionError(endpoint_url="http://x"), ConnectError, "cannot connect"),
        (be.ConnectTimeoutError(endpoint_url="http://x"), ConnectError, "cannot connect"),
        (be.ReadTimeoutError(endpoint_url="http://x"), ReadTimeoutError, "timed out writing"),
        (be.ConnectionClosedError(endpoint_url="http://x"), ConnectError, "connection failed"),
        (be.NoCredentialsError(), ConfigError, "no AWS credentials"),
        (be.ParamValidationError(report="bad"), ServerError, "ParamValidationError"),
    ],
)
def test_botocore_errors_become_skyhauls(
    raised: Exception, error: type[Exception], shown: str
) -> None:
    mapped = boto_error(raised, URL)
    assert type(mapped) is error
    assert shown in str(mapped) and "\n" not in str(mapped)
    if isinstance(raised, be.ClientError):
        assert (
            getattr(mapped, "status", None) == raised.response["ResponseMetadata"]["HTTPStatusCode"]
        )


def test_other_errors_pass_through() -> None:
    assert boto_error(ValueError("ours"), URL) is None
    with pytest.raises(ValueError, match="ours"), map_boto_errors(URL):
        raise ValueError("ours")


def test_the_client_follows_the_access_it_is_given() -> None:
    keys = AwsCredentials("AKIDEXAMPLE", "secret", "token")
    signed = boto3_client(
        S3Access(region="eu-west-3", endpoint="http://127.0.0.1:9", credentials=keys),
        S3Settings(connect_timeout=3.0),
    )
    unsigned = boto3_client(S3Access(), S3Settings())
    try:
        assert signed.meta.region_name == "eu-west-3"  # type: ignore[attr-defined]
        assert signed.meta.endpoint_url == "http://127.0.0.1:9"  # type: ignore[attr-defined]
        assert signed.meta.config.connect_timeout == 3.0  # type: ignore[attr-defined]
        assert signed.meta.config.signature_version is not UNSIGNED  # type: ignore[attr-defined]
        assert unsigned.meta.config.signature_version is UNSIGNED  # type: ignore[attr-defined]
    finally:
        signed.close()
        unsigned.close()


async def test_an_endpoint_nobody_listens_on_is_a_connect_error() -> None:
    transport = S3Transport(access=S3Access(endpoint="http://127.0.0.1:9"))  # discard port
    location = S3Location("bucket", "p", transport=transport)
    with pytest.raises(ConnectError) as caught:
        await location.writer("a.tar")
    assert str(caught.value) == "cannot connect for s3://bucket/p/a.tar"
    await location.aclose()


async def test_a_throttled_put_is_a_throttled_error(s3_faults: S3SimThread) -> None:
    # The fault proxy strikes requests for an object's key (not the bucket's listings).
    s3_faults.set_faults(p503=1.0)
    location = S3Location(s3_faults.bucket, "p", transport=unsigned_transport(s3_faults.endpoint))
    writer = await location.writer("a.tar")
    await writer.write(b"small: put whole")
    with pytest.raises(ThrottledError) as caught:
        await writer.commit()
    assert caught.value.status == 503
    assert str(caught.value) == f"S3 503 SlowDown from s3://{s3_faults.bucket}/p/a.tar"
    await writer.abort()
    await location.aclose()
