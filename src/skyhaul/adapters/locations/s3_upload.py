"""An S3 location's writer: a multipart upload that a later process can take up again.

Rules:
- Bytes are buffered up to ``part_size``; each full part is uploaded (``upload_part``, in a
  thread: boto3 blocks), at most ``max_concurrency`` at once (memory: about
  ``part_size * (max_concurrency + 1)``). The multipart upload is created with the first
  full part: an object smaller than one part (the empty one too) goes up whole at commit,
  with one ``put_object``.
- Durable means uploaded: ``sync`` waits for the parts in flight. Bytes buffered below a
  part are lost by a kill, which is why a resume's offset counts whole parts only.
- Opening finds the key's unfinished uploads (its exact key, not the keys it prefixes).
  ``resume=True`` keeps the newest (by ``Initiated``) and takes up its parts 1..n,
  contiguous and each at least 5 MiB (a smaller part can only be a last one: it is
  uploaded again, with what follows); older uploads are aborted. Without ``resume``, or
  with nothing to keep, every one is aborted and the writer starts from 0.
- ``commit`` uploads the buffered rest as the last part and completes the upload with parts
  1..n; parts a dead writer left past a gap are not named, so S3 drops them.
- ``abort`` waits for the parts in flight and aborts the upload; ``suspend`` waits for them
  and keeps it for a resume (the buffered bytes are dropped). A part that failed leaves
  the writer good only for those two.
- botocore's errors are mapped by :func:`skyhaul.adapters.s3_client.map_boto_errors`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from skyhaul.adapters.locations.writer import WriterBase
from skyhaul.adapters.s3_client import CompletedPart, Part, S3Client, map_boto_errors
from skyhaul.errors import ClientError
from skyhaul.ports.locations import ObjectInfo

__all__ = ["MIN_PART_SIZE", "S3Writer", "UploadTarget", "open_upload"]

#: S3's smallest part, bar the last.
MIN_PART_SIZE = 5 << 20

_P = ParamSpec("_P")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class UploadTarget:
    """Where an upload goes, and how to see the result.

    Parameters
    ----------
    client : S3Client
        boto3's client (its calls are run in threads).
    bucket, key : str
        The object.
    url : str
        Its ``s3://`` URL, for messages.
    stat : callable
        Returns what S3 reports of the committed object (``None``: nothing there).
    """

    client: S3Client
    bucket: str
    key: str
    url: str
    stat: Callable[[], Awaitable[ObjectInfo | None]]

    async def call(self, method: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run one of the client's calls in a thread, its errors mapped."""
        with map_boto_errors(self.url):
            return await asyncio.to_thread(method, *args, **kwargs)


async def open_upload(
    target: UploadTarget,
    path: str,
    *,
    resume: bool,
    part_size: int,
    max_concurrency: int,
) -> S3Writer:
    """Open a writer of ``target``, taking up its newest unfinished upload if ``resume``.

    Parameters
    ----------
    target : UploadTarget
        The object.
    path : str
        Its path relative to the location (clean).
    resume : bool
        Keep the parts a killed writer uploaded (see the rules).
    part_size : int
        Bytes per part (at least :data:`MIN_PART_SIZE`).
    max_concurrency : int
        Parts uploaded at once.
    """
    uploads = await target.call(_unfinished_uploads, target.client, target.bucket, target.key)
    upload_id, parts = None, []
    if resume and uploads:
        parts = await target.call(_resumable_parts, target, uploads[-1])
        if parts:
            upload_id = uploads.pop()
    for stale in uploads:
        await _abort_upload(target, stale)
    return S3Writer(target, path, part_size, max_concurrency, upload_id, parts)


class S3Writer(WriterBase):
    """One multipart upload in progress (see the module rules and
    :class:`skyhaul.ports.locations.LocationWriter`)."""

    def __init__(
        self,
        target: UploadTarget,
        path: str,
        part_size: int,
        max_concurrency: int,
        upload_id: str | None,
        parts: list[Part],
    ) -> None:
        super().__init__(path, sum(part["Size"] for part in parts))
        self._target = target
        self._part_size = part_size
        self._max_concurrency = max_concurrency
        self._upload_id = upload_id
        self._done: list[CompletedPart] = [
            {"PartNumber": part["PartNumber"], "ETag": part["ETag"]} for part in parts
        ]
        self._in_flight: deque[asyncio.Task[CompletedPart]] = deque()
        self._next_part = len(parts) + 1
        self._buffer = bytearray()
        self._failed = False

    async def _write(self, chunk: bytes) -> None:
        """Buffer ``chunk``; every full part goes up meanwhile."""
        self._check_healthy()
        self._buffer += chunk
        while len(self._buffer) >= self._part_size:
            part = bytes(self._buffer[: self._part_size])
            del self._buffer[: self._part_size]
            await self._send(part)

    async def _sync(self) -> None:
        """Wait for the parts in flight: uploaded parts are all S3 keeps of an upload."""
        self._check_healthy()
        while self._in_flight:
            await self._settle_oldest()

    async def _commit(self) -> ObjectInfo:
        """Upload the rest and complete the upload (or put a small object whole)."""
        await self._sync()
        target = self._target
        if self._upload_id is None:  # smaller than one part: no upload was needed
            await target.call(
                target.client.put_object,
                Bucket=target.bucket,
                Key=target.key,
                Body=bytes(self._buffer),
            )
        else:
            if self._buffer:
                await self._send(bytes(self._buffer))
                await self._sync()
            await target.call(
                target.client.complete_multipart_upload,
                Bucket=target.bucket,
                Key=target.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._done},
            )
        self._buffer.clear()
        info = await target.stat()
        if info is None:  # completed, yet not there: not ours to fix, but never "done"
            raise ClientError(f"S3 404 after completing {target.url}", status=404)
        return info

    async def _abort(self) -> None:
        await self._suspend()
        if self._upload_id is not None:
            await _abort_upload(self._target, self._upload_id)

    async def _suspend(self) -> None:
        """Keep the upload and its parts for a resume; drop what is buffered."""
        self._buffer.clear()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        self._in_flight.clear()

    def _check_healthy(self) -> None:
        if self._failed:
            raise RuntimeError(f"a part of {self._path} failed: abort or suspend the writer")

    async def _send(self, part: bytes) -> None:
        target = self._target
        if self._upload_id is None:
            created = await target.call(
                target.client.create_multipart_upload, Bucket=target.bucket, Key=target.key
            )
            self._upload_id = created["UploadId"]
        while len(self._in_flight) >= self._max_concurrency:
            await self._settle_oldest()
        number, self._next_part = self._next_part, self._next_part + 1
        self._in_flight.append(asyncio.create_task(self._upload(self._upload_id, number, part)))

    async def _upload(self, upload_id: str, number: int, part: bytes) -> CompletedPart:
        target = self._target
        answer = await target.call(
            target.client.upload_part,
            Bucket=target.bucket,
            Key=target.key,
            UploadId=upload_id,
            PartNumber=number,
            Body=part,
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    async def _settle_oldest(self) -> None:
        """Wait for the oldest part in flight (parts complete in order in ``_done``)."""
        try:
            self._done.append(await self._in_flight[0])
        except BaseException:
            self._failed = True
            raise
        finally:
            self._in_flight.popleft()


def _unfinished_uploads(client: S3Client, bucket: str, key: str) -> list[str]:
    """The ids of the unfinished uploads of exactly ``key``, oldest first."""
    found = []
    markers: dict[str, str] = {}
    while True:
        page = client.list_multipart_uploads(Bucket=bucket, Prefix=key, **markers)
        found += [upload for upload in page.get("Uploads", []) if upload["Key"] == key]
        if not page.get("IsTruncated"):
            break
        markers = {
            "KeyMarker": page.get("NextKeyMarker", ""),
            "UploadIdMarker": page.get("NextUploadIdMarker", ""),
        }
    found.sort(key=lambda upload: upload["Initiated"])
    return [upload["UploadId"] for upload in found]


def _resumable_parts(target: UploadTarget, upload_id: str) -> list[Part]:
    """Parts 1..n of an upload, contiguous, each big enough to have a successor."""
    by_number: dict[int, Part] = {}
    marker: dict[str, int] = {}
    while True:
        page = target.client.list_parts(
            Bucket=target.bucket, Key=target.key, UploadId=upload_id, **marker
        )
        by_number.update((part["PartNumber"], part) for part in page.get("Parts", []))
        if not page.get("IsTruncated"):
            break
        marker = {"PartNumberMarker": page.get("NextPartNumberMarker", 0)}
    kept: list[Part] = []
    while (part := by_number.get(len(kept) + 1)) is not None and part["Size"] >= MIN_PART_SIZE:
        kept.append(part)
    return kept


async def _abort_upload(target: UploadTarget, upload_id: str) -> None:
    try:
        await target.call(
            target.client.abort_multipart_upload,
            Bucket=target.bucket,
            Key=target.key,
            UploadId=upload_id,
        )
    except ClientError as exc:
        if exc.status != 404:  # 404: completed or aborted meanwhile, nothing left to drop
            raise
