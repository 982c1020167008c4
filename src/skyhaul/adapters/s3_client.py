"""boto3's S3 client, for what obstore cannot do: multipart uploads taken up across processes.

Rules:
- obstore keeps a multipart upload's id to itself, so a killed writer's upload could never
  be found again; boto3 lists uploads and their parts. It is used for the multipart calls
  of :class:`S3Client` only: reads, listings and deletes stay on obstore
  (:mod:`skyhaul.adapters.s3`).
- boto3 is imported when the first client is made (the first S3 writer), never when
  skyhaul starts.
- The client is configured from the same :class:`~skyhaul.adapters.s3_access.S3Access`
  and :class:`~skyhaul.adapters.s3.S3Settings` as the obstore stores: region, endpoint
  (path-style addressing, as obstore's), static keys with their session token, unsigned
  requests when there are none, botocore's own chain for ambient (web identity, container)
  credentials. boto3's retries are off (the engine retries), and it sends checksums only
  where S3 requires them (S3-compatible services may know none).
- boto3 is synchronous: callers run its calls in a thread (``asyncio.to_thread``).
- botocore's errors become skyhaul's in :func:`map_boto_errors`, with the same rules (and
  the same status table) as obstore's in :mod:`skyhaul.adapters.s3_errors`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Protocol, TypedDict

from skyhaul.adapters.http import USER_AGENT
from skyhaul.adapters.s3 import S3Settings
from skyhaul.adapters.s3_access import S3Access
from skyhaul.adapters.s3_errors import status_error
from skyhaul.core.redact import redact_url
from skyhaul.errors import (
    ConfigError,
    ConnectError,
    ReadTimeoutError,
    ServerError,
    TransferError,
)

__all__ = [
    "CompletedPart",
    "Part",
    "PartsPage",
    "S3Client",
    "UploadsPage",
    "boto3_client",
    "map_boto_errors",
]


class Upload(TypedDict):
    """One unfinished multipart upload, as ``list_multipart_uploads`` lists it."""

    Key: str
    UploadId: str
    Initiated: datetime


class UploadsPage(TypedDict, total=False):
    """One page of ``list_multipart_uploads``."""

    Uploads: list[Upload]
    IsTruncated: bool
    NextKeyMarker: str
    NextUploadIdMarker: str


class Part(TypedDict):
    """One uploaded part, as ``list_parts`` lists it."""

    PartNumber: int
    Size: int
    ETag: str


class PartsPage(TypedDict, total=False):
    """One page of ``list_parts``."""

    Parts: list[Part]
    IsTruncated: bool
    NextPartNumberMarker: int


class CompletedPart(TypedDict):
    """A part named to ``complete_multipart_upload``."""

    PartNumber: int
    ETag: str


class CreatedUpload(TypedDict):
    """The answer of ``create_multipart_upload``."""

    UploadId: str


class UploadedPart(TypedDict):
    """The answer of ``upload_part``."""

    ETag: str


class MultipartUpload(TypedDict):
    """The ``MultipartUpload`` argument of ``complete_multipart_upload``."""

    Parts: list[CompletedPart]


class S3Client(Protocol):
    """The calls of boto3's S3 client that skyhaul makes (keyword arguments, as boto3's)."""

    def list_multipart_uploads(
        self, *, Bucket: str, Prefix: str, KeyMarker: str = ..., UploadIdMarker: str = ...
    ) -> UploadsPage: ...

    def list_parts(
        self, *, Bucket: str, Key: str, UploadId: str, PartNumberMarker: int = ...
    ) -> PartsPage: ...

    def create_multipart_upload(self, *, Bucket: str, Key: str) -> CreatedUpload: ...

    def upload_part(
        self, *, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: bytes
    ) -> UploadedPart: ...

    def complete_multipart_upload(
        self, *, Bucket: str, Key: str, UploadId: str, MultipartUpload: MultipartUpload
    ) -> object: ...

    def abort_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str) -> object: ...

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> object: ...

    def close(self) -> None: ...


def boto3_client(access: S3Access, settings: S3Settings) -> S3Client:
    """Make boto3's S3 client for ``access`` (see the rules).

    Parameters
    ----------
    access : S3Access
        Region, endpoint and credentials (those of the S3 transport).
    settings : S3Settings
        Timeouts and TLS verification (those of the S3 transport).

    Returns
    -------
    S3Client
        The client; its calls block (run them in a thread).

    Raises
    ------
    skyhaul.errors.ConfigError
        If botocore refuses the configuration.
    """
    import boto3  # the first S3 writer pays for the import
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    options: dict[str, object] = {
        "region_name": access.region,
        "connect_timeout": settings.connect_timeout,
        "read_timeout": settings.read_timeout,
        "retries": {"mode": "standard", "total_max_attempts": 1},
        "user_agent": USER_AGENT,
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
    }
    if access.endpoint is not None:
        options["s3"] = {"addressing_style": "path"}
    if not access.signed:
        options["signature_version"] = UNSIGNED
    keys = access.credentials
    try:
        client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=access.endpoint,
            verify=settings.verify_tls,
            aws_access_key_id=keys.access_key_id if keys else None,
            aws_secret_access_key=keys.secret_access_key if keys else None,
            aws_session_token=keys.session_token if keys else None,
            config=Config(**options),
        )
    except (BotoCoreError, ValueError) as exc:
        raise ConfigError(f"cannot set up S3 uploads: {type(exc).__name__}") from None
    return client


@contextmanager
def map_boto_errors(url: str) -> Iterator[None]:
    """Translate botocore's errors raised in the block to skyhaul's.

    Parameters
    ----------
    url : str
        The ``s3://`` URL being written, shown redacted in messages.
    """
    try:
        yield
    except TransferError:
        raise
    except Exception as exc:
        mapped = boto_error(exc, url)
        if mapped is None:
            raise
        raise mapped from exc


def boto_error(exc: BaseException, url: str) -> TransferError | ConfigError | None:
    """Return the skyhaul error a botocore error means, or ``None`` if it is not botocore's.

    An S3 answer maps by its status as obstore's do (throttling, server, 403, 404);
    failures to connect are ``ConnectError``, a read that timed out ``ReadTimeoutError``,
    credentials botocore cannot find ``ConfigError``; any other botocore failure is a
    server error (retried, not fatal).
    """
    from botocore import exceptions as be  # imported with the client, before any call

    shown = redact_url(url)
    if isinstance(exc, be.ClientError):
        answer = exc.response
        code = str(answer.get("Error", {}).get("Code", ""))
        status = answer.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if not isinstance(status, int):
            return ServerError(f"S3 error {code or 'without a status'} from {shown}")
        return status_error(status, code, shown)
    if isinstance(exc, be.NoCredentialsError):
        return ConfigError(f"no AWS credentials found to write {shown}")
    if isinstance(exc, be.ReadTimeoutError):
        return ReadTimeoutError(f"timed out writing {shown}")
    if isinstance(exc, be.ConnectTimeoutError | be.EndpointConnectionError):
        return ConnectError(f"cannot connect for {shown}")
    if isinstance(exc, be.ConnectionClosedError | be.HTTPClientError):
        return ConnectError(f"connection failed for {shown}")
    if isinstance(exc, be.BotoCoreError):
        return ServerError(f"S3 error ({type(exc).__name__}) from {shown}")
    return None
