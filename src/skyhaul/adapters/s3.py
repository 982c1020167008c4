"""S3 transport on obstore (Rust object_store): the one place obstore stores are made.

Rules:
- URLs are ``s3://BUCKET/KEY``; the key is taken literally (no percent-decoding), as the
  AWS CLI takes it.
- obstore is imported when the first store is made (the first ``s3://`` URL used), never
  when skyhaul starts. One store per bucket, kept until :meth:`S3Transport.close`; S3
  storage locations (:mod:`skyhaul.adapters.locations.s3`) write through the same stores.
- Region, endpoint and credentials come from :mod:`skyhaul.adapters.s3_access` (the AWS
  environment and files), read once, on first use.
- obstore's own retries are off: the engine retries, so every 503 reaches its rate control.
- Bounds: ``connect_timeout`` to connect; ``connect_timeout + read_timeout`` for an answer's
  headers; ``read_timeout`` for each chunk of a body (an asyncio deadline around each
  read, plus object_store's per-read timeout under it). object_store's total-request
  ``timeout`` is pushed out of the way: it would cut every large download.
- A body is handed over in chunks of at least ``CHUNK_SIZE`` (64 KiB): obstore loses
  what it buffered when a connection breaks, so a range cut off resumes after all but
  less than 64 KiB of what arrived.
- A ranged open answers ``partial`` with ``ContentRange(start, end, object size)``; a whole
  open is not partial. The quoted ETag is the validator. ``if_range`` (with a range)
  becomes ``If-Match``: a changed object answers 412 and :class:`RemoteChangedError` is
  raised (HTTP's ``If-Range`` would send the whole file instead; both mean restart).
- obstore errors are mapped in :mod:`skyhaul.adapters.s3_errors`; only the request and
  the body's reads are mapped, not the caller's code inside ``open``.
- Known limit of obstore (its pyo3 tokio runtime): a process that finalizes the
  interpreter right after S3 reads can, rarely, abort at exit (seen 1 run in 8 of a bare
  ``asyncio.run`` loop; never in 60 runs of ``skyhaul get``, which a test repeats). The
  work is complete by then; a short-lived script can leave with ``os._exit``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING

from skyhaul.adapters.http import USER_AGENT
from skyhaul.adapters.s3_access import S3Access, resolve_s3_access
from skyhaul.adapters.s3_errors import map_s3_errors
from skyhaul.core.ranges import ByteRange, ContentRange, if_range_value
from skyhaul.core.redact import redact_url
from skyhaul.errors import ClientError, ConfigError, IntegrityError
from skyhaul.ports.transport import Body, RemoteInfo

if TYPE_CHECKING:
    from obstore import BytesStream, GetOptions, ObjectMeta
    from obstore.store import ClientConfig, S3Config, S3Store

#: Smallest chunk obstore hands over (bar the last). obstore drops the bytes it buffers
#: when the connection breaks, so this is what a cut body can lose: at 1 MiB, a server
#: that cuts every body sooner made no progress at all. The cost is nil on loopback, where
#: chunks arrive in hundreds of KiB (4 x 256 MiB from moto, medians of 3: 2.08 s wall and
#: 1.82 s CPU at 64 KiB, 2.22 s and 1.90 s at 1 MiB); 64 KiB caps the count at 4,096 per
#: 256 MiB elsewhere.
CHUNK_SIZE = 64 << 10
# object_store's total-request timeout cannot be turned off from Python: set it far away.
_NO_TOTAL_TIMEOUT = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class S3Settings:
    """Connection settings of the S3 transport.

    Parameters
    ----------
    connect_timeout : float
        Seconds to open a connection.
    read_timeout : float
        Seconds to wait for an answer's headers (after connecting) and for each chunk
        (up to 1 MiB) of a body.
    verify_tls : bool
        Verify server certificates (default on).
    """

    connect_timeout: float = 30.0
    read_timeout: float = 60.0
    verify_tls: bool = True


def parse_s3_url(url: str) -> tuple[str, str]:
    """Split ``s3://BUCKET/KEY`` into bucket and key.

    Raises
    ------
    skyhaul.errors.ClientError
        If ``url`` is not an ``s3://`` URL with a bucket and a key.
    """
    scheme, sep, rest = url.partition("://")
    bucket, _, key = rest.partition("/")
    if not sep or scheme.lower() != "s3" or not bucket or not key:
        raise ClientError(f"not an s3://BUCKET/KEY URL: {redact_url(url)}", status=400)
    return bucket, key


@dataclass(slots=True)
class S3Body:
    """An open S3 answer (see :class:`skyhaul.ports.transport.Body`)."""

    stream: BytesStream
    url: str
    partial: bool
    content_range: ContentRange | None
    info: RemoteInfo
    read_timeout: float

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield the body in chunks of at least 64 KiB; errors are mapped to skyhaul errors.

        obstore's stream already yields ``bytes`` (copied out of Rust as they arrive);
        the copy costs about 6 ms per 256 MiB, so nothing is gained by other buffers.
        When the body breaks off, the chunks yielded so far are all it delivers: less
        than ``CHUNK_SIZE`` of what arrived is lost.
        """
        with map_s3_errors(self.url):
            while True:
                try:
                    async with asyncio.timeout(self.read_timeout):
                        chunk = await self.stream.__anext__()
                except StopAsyncIteration:
                    return
                yield chunk


class S3Transport:
    """Read objects from S3 (or an S3-compatible service) with obstore.

    Parameters
    ----------
    settings : S3Settings, optional
        Timeouts and TLS verification.
    access : S3Access, optional
        Region, endpoint and credentials; by default read from the AWS environment
        variables and files on first use.
    environ : callable, optional
        Returns the environment read when ``access`` is not given (default: ``os.environ``).
    home : Path, optional
        Home directory of ``~/.aws`` (default: the user's).
    """

    def __init__(
        self,
        settings: S3Settings | None = None,
        access: S3Access | None = None,
        environ: Callable[[], Mapping[str, str]] | None = None,
        home: Path | None = None,
    ) -> None:
        self.settings = settings or S3Settings()
        self._access = access
        self._environ = environ or (lambda: os.environ)
        self._home = home
        self._stores: dict[str, S3Store] = {}

    @property
    def access(self) -> S3Access:
        """Region, endpoint and credentials in use (resolved on first use).

        Raises
        ------
        skyhaul.errors.ConfigError
            If the AWS environment or files are half made (see
            :func:`skyhaul.adapters.s3_access.resolve_s3_access`).
        """
        if self._access is None:
            self._access = resolve_s3_access(self._environ(), self._home or Path.home())
        return self._access

    def store(self, bucket: str) -> S3Store:
        """Return the obstore store of ``bucket`` (made on first use, then kept).

        Storage locations on S3 (:mod:`skyhaul.adapters.locations.s3`) write through it,
        so reads and writes share one configuration and one connection pool per bucket.

        Raises
        ------
        skyhaul.errors.ConfigError
            If the AWS setup is half made or obstore refuses the configuration.
        """
        store = self._stores.get(bucket)
        if store is None:
            store = self._stores[bucket] = self._new_store(bucket)
        return store

    def _new_store(self, bucket: str) -> S3Store:
        from obstore.store import S3Store  # the first s3:// URL pays for the import

        access, s = self.access, self.settings
        config: S3Config = {"region": access.region}
        if access.endpoint is not None:
            # Both keys: obstore reads AWS_ENDPOINT_URL_S3 from the process environment
            # and prefers it over ``endpoint``; the resolved value must win.
            config["endpoint"] = access.endpoint
            config["aws_endpoint_url_s3"] = access.endpoint
        if access.credentials is not None:
            config["access_key_id"] = access.credentials.access_key_id
            config["secret_access_key"] = access.credentials.secret_access_key
            if access.credentials.session_token:
                config["session_token"] = access.credentials.session_token
        config["skip_signature"] = not access.signed
        options: ClientConfig = {
            "allow_http": access.allow_http,
            "allow_invalid_certificates": not s.verify_tls,
            "connect_timeout": timedelta(seconds=s.connect_timeout),
            "read_timeout": timedelta(seconds=s.read_timeout),
            "timeout": _NO_TOTAL_TIMEOUT,
            "user_agent": USER_AGENT,
        }
        try:
            return S3Store(
                bucket, config=config, client_options=options, retry_config={"max_retries": 0}
            )
        except Exception as exc:  # obstore validates the configuration here
            raise ConfigError(
                f"cannot set up S3 for bucket {bucket!r}: {type(exc).__name__}"
            ) from None

    @property
    def _answer_timeout(self) -> float:
        return self.settings.connect_timeout + self.settings.read_timeout

    async def stat(self, url: str) -> RemoteInfo:
        """Return size and validators from a HEAD request."""
        import obstore

        bucket, key = parse_s3_url(url)
        store = self.store(bucket)
        with map_s3_errors(url):
            async with asyncio.timeout(self._answer_timeout):
                meta = await obstore.head_async(store, key)
        return _info(meta)

    def open(
        self, url: str, byte_range: ByteRange | None = None, if_range: str | None = None
    ) -> AbstractAsyncContextManager[Body]:
        """Open ``url`` whole or one range of it (see the Transport protocol)."""
        return self._open(url, byte_range, if_range)

    @asynccontextmanager
    async def _open(
        self, url: str, byte_range: ByteRange | None, if_range: str | None
    ) -> AsyncIterator[Body]:
        import obstore

        bucket, key = parse_s3_url(url)
        store = self.store(bucket)
        options: GetOptions = {}
        if byte_range is not None:
            options["range"] = (byte_range.start, byte_range.end)
            if if_range:
                _add_condition(options, if_range)
        with map_s3_errors(url):
            async with asyncio.timeout(self._answer_timeout):
                result = await obstore.get_async(store, key, options=options)
        info = _info(result.meta)
        content_range = None
        if byte_range is not None:
            start, end = result.range
            try:
                content_range = ContentRange(start, end, info.size)
            except ValueError:
                raise IntegrityError(
                    f"S3 answered bytes [{start}, {end}) of {info.size} for {redact_url(url)}"
                ) from None
        yield S3Body(
            stream=result.stream(min_chunk_size=CHUNK_SIZE),
            url=url,
            partial=byte_range is not None,
            content_range=content_range,
            info=info,
            read_timeout=self.settings.read_timeout,
        )

    async def close(self) -> None:
        """Drop every store and its connections (idempotent)."""
        self._stores.clear()


def _info(meta: ObjectMeta) -> RemoteInfo:
    etag = meta["e_tag"]
    last_modified = format_datetime(meta["last_modified"].astimezone(UTC), usegmt=True)
    return RemoteInfo(
        size=meta["size"],
        etag=etag,
        last_modified=last_modified,
        validator=if_range_value(etag, last_modified),
        accepts_ranges=True,
    )


def _add_condition(options: GetOptions, validator: str) -> None:
    """Ask for the range only if the object still has ``validator``.

    An ETag goes in ``If-Match``; a date (an S3-compatible service without ETags gave its
    Last-Modified as the validator) in ``If-Unmodified-Since``.
    """
    value = validator.strip()
    if value.startswith(('"', "W/")):
        options["if_match"] = value
        return
    try:
        options["if_unmodified_since"] = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        options["if_match"] = value
