"""A storage location on S3 (``s3://bucket/prefix``; see :mod:`skyhaul.ports.locations`).

Rules:
- Stores, credentials, endpoint and timeouts are the S3 transport's
  (:class:`skyhaul.adapters.s3.S3Transport`, configured from
  :mod:`skyhaul.adapters.s3_access`); reads go through the transport itself, so a read of
  a location is a read of the transport. obstore is imported on first use.
- Keys are ``prefix/path`` with ``path`` cleaned by ``core.paths.safe_relative_path``
  (``..`` and absolute paths refused).
- A writer is a multipart upload made with boto3 (:mod:`skyhaul.adapters.locations.s3_upload`;
  obstore keeps its upload ids to itself): ``part_size`` parts, at most ``max_concurrency``
  in flight; an object smaller than one part is put whole at commit. S3 allows 10,000
  parts: the 16 MiB default holds objects up to 156 GiB.
- ``writer(path, resume=True)`` takes up the unfinished upload a killed or suspended
  writer left: ``resume_offset`` is the size of its uploaded parts (bytes it had buffered
  below a part are lost). Without ``resume`` that upload is aborted first. An upload no
  writer comes back for stays until the bucket's lifecycle rule
  (``AbortIncompleteMultipartUpload``) removes it.
- The boto3 client is made on the first writer, from the transport's region, endpoint,
  credentials and timeouts (:func:`skyhaul.adapters.s3_client.boto3_client`), and closed
  by :meth:`S3Location.aclose`.
- A ranged read (``offset > 0``) asks HEAD first and reads with ``If-Match`` on the ETag:
  an object replaced meanwhile raises ``RemoteChangedError``.
- obstore errors are mapped by :mod:`skyhaul.adapters.s3_errors`, boto3's by
  :mod:`skyhaul.adapters.s3_client`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime

from skyhaul.adapters.locations.s3_upload import (
    MIN_PART_SIZE,
    S3Writer,
    UploadTarget,
    open_upload,
)
from skyhaul.adapters.s3 import S3Transport
from skyhaul.adapters.s3_client import S3Client, boto3_client
from skyhaul.adapters.s3_errors import map_s3_errors
from skyhaul.core.paths import safe_relative_path
from skyhaul.core.ranges import ByteRange
from skyhaul.errors import ClientError
from skyhaul.ports.locations import ObjectEntry, ObjectInfo

__all__ = ["PART_SIZE", "S3Location", "S3Writer"]

#: Bytes per part of a multipart upload (S3's minimum is 5 MiB, its maximum count 10,000).
PART_SIZE = 16 << 20
_LIST_BATCH = 1000


class S3Location:
    """Objects under a prefix of an S3 bucket.

    Parameters
    ----------
    bucket : str
        The bucket.
    prefix : str, optional
        The key prefix every path is under (``""``: the whole bucket).
    transport : S3Transport, optional
        The transport whose stores and settings to use; by default one of its own,
        configured from the AWS environment, closed by :meth:`aclose`.
    part_size : int, optional
        Bytes per part of a multipart upload (at least 5 MiB).
    max_concurrency : int, optional
        Parts uploaded at once by one writer.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        transport: S3Transport | None = None,
        part_size: int = PART_SIZE,
        max_concurrency: int = 4,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError("part_size must be at least 5 MiB (S3's smallest part)")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._transport = transport or S3Transport()
        self._owns_transport = transport is None
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self._clients: list[S3Client] = []  # the first is used (see _uploads)

    @property
    def url(self) -> str:
        """``s3://bucket/prefix``."""
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, path: str) -> str:
        """The object key of ``path`` (cleaned; ``..`` and absolute paths refused)."""
        relative = safe_relative_path(path).as_posix()
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    async def stat(self, path: str) -> ObjectInfo | None:
        """Return size, Last-Modified and ETag from a HEAD request; None if no object."""
        try:
            info = await self._transport.stat(self._url(self.key(path)))
        except ClientError as exc:
            if exc.status == 404:
                return None
            raise
        mtime = 0.0
        if info.last_modified is not None:
            mtime = parsedate_to_datetime(info.last_modified).timestamp()
        return ObjectInfo(size=info.size or 0, mtime=mtime, etag=info.etag)

    async def open_read(self, path: str, offset: int = 0) -> AsyncIterator[bytes]:
        """Yield the object's bytes from ``offset`` (see the rules for ranged reads).

        Raises
        ------
        ClientError
            Status 404 if there is no object, 416 if ``offset`` is past its end.
        RemoteChangedError
            The object was replaced between the HEAD and the ranged read.
        """
        url = self._url(self.key(path))
        byte_range, validator = None, None
        if offset:
            info = await self.stat(path)
            if info is None:
                raise ClientError(f"S3 404 NoSuchKey from {url}", status=404)
            if offset > info.size:
                raise ClientError(
                    f"offset {offset} is past the end ({info.size}) of {url}", status=416
                )
            if offset == info.size:
                return
            byte_range, validator = ByteRange(offset, info.size), info.etag
        async with self._transport.open(url, byte_range, validator) as body:
            async for chunk in body.chunks():
                yield chunk

    async def writer(self, path: str, *, resume: bool = False) -> S3Writer:
        """Open a multipart upload of ``path``; ``resume`` takes up the one a killed or
        suspended writer left (see the rules)."""
        key = self.key(path)
        clean = safe_relative_path(path).as_posix()

        async def stat() -> ObjectInfo | None:
            return await self.stat(clean)

        target = UploadTarget(await self._uploads(), self.bucket, key, self._url(key), stat)
        return await open_upload(
            target,
            clean,
            resume=resume,
            part_size=self.part_size,
            max_concurrency=self.max_concurrency,
        )

    async def _uploads(self) -> S3Client:
        """boto3's client, made on first use (in a thread: it reads its service model)."""
        if not self._clients:
            transport = self._transport
            client = await asyncio.to_thread(boto3_client, transport.access, transport.settings)
            self._clients.append(client)  # writers opened at once may make two: both kept
        return self._clients[0]

    async def delete(self, path: str) -> None:
        """Delete the object at ``path`` (none there is no error, as S3 answers)."""
        import obstore

        key = self.key(path)
        with map_s3_errors(self._url(key)):
            await obstore.delete_async(self._transport.store(self.bucket), key)

    async def walk(self, prefix: str = "") -> AsyncIterator[ObjectEntry]:
        """Yield every object under ``prefix`` (a directory), in key order."""
        import obstore

        base = self.key(prefix) if prefix.strip("/") else self.prefix
        cut = len(self.prefix) + 1 if self.prefix else 0
        stream = obstore.list(
            self._transport.store(self.bucket), base or None, chunk_size=_LIST_BATCH
        )
        with map_s3_errors(self._url(base)):
            async for batch in stream:
                for meta in batch:
                    yield ObjectEntry(meta["path"][cut:], meta["size"])

    async def aclose(self) -> None:
        """Close the upload client, and the transport if this location made it."""
        clients, self._clients = self._clients, []
        for client in clients:
            client.close()
        if self._owns_transport:
            await self._transport.close()
