"""The storage-location seam: whole files at a site's storage, local or in an object store.

Rules:
- A location is a root (``file:///data/raw``, ``s3://bucket/prefix``); every path given
  to it is relative to that root, ``/``-separated, and may not leave it: absolute paths,
  ``..`` and (locally) symlinks on the way are refused with ``PathEscapeError``.
- Nothing appears under a path half written. A writer's bytes become visible only at
  ``commit``, at once (locally a part file, fsynced and renamed; on S3 a multipart upload
  completed). ``abort`` leaves nothing behind; so does a writer never committed, but for
  the bytes a resume may take up (locally the part file; on S3 the unfinished multipart
  upload and its parts).
- ``resume_offset`` is how many bytes a writer opened with ``resume=True`` found already
  durable (a local part file, or the uploaded parts of an S3 multipart upload, left by a
  killed or suspended writer); the writer appends after them. It is 0 when nothing was
  left. Only synced bytes are sure to count: on S3 only whole parts (bytes buffered below
  a part die with the writer).
- ``walk`` yields the committed objects under a prefix (never part files), paths sorted.
- Errors are skyhaul's: ``DiskFullError``, ``DiskError`` and the ``TransferError``
  subclasses of the S3 mapping (each with its ``error_class``); a missing object read is
  a ``ClientError`` with status 404. Adapters map at the seam.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol

__all__ = ["LocationStorage", "LocationWriter", "ObjectEntry", "ObjectInfo"]


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a location says about one committed object.

    Parameters
    ----------
    size : int
        Bytes.
    mtime : float
        Modification time, seconds since the epoch (S3: the upload's Last-Modified).
    etag : str or None
        The object store's ETag, as sent (quoted); ``None`` for local files.
    """

    size: int
    mtime: float
    etag: str | None = None


class ObjectEntry(NamedTuple):
    """One object found by ``walk``: its path relative to the location, and its size."""

    path: str
    size: int


class LocationWriter(Protocol):
    """One object being written, in order, until it is committed or aborted."""

    @property
    def path(self) -> str:
        """The object's path, relative to the location (normalised)."""

    @property
    def size(self) -> int:
        """Bytes in the object so far: ``resume_offset()`` plus every byte written since."""

    def resume_offset(self) -> int:
        """Bytes found durable when the writer was opened (0 unless resumed)."""

    async def write(self, chunk: bytes) -> None:
        """Append ``chunk``."""

    async def sync(self) -> None:
        """Make the bytes written so far durable (a no-op where nothing is until commit)."""

    async def commit(self) -> ObjectInfo:
        """Make the object appear under its path, whole, durably; return what it is."""

    async def abort(self) -> None:
        """Drop everything written (idempotent; a no-op after commit)."""

    async def suspend(self) -> None:
        """Stop without committing, keeping what is durable for a later
        ``writer(path, resume=True)``: a local part file, synced; on S3 the multipart
        upload with its uploaded parts (bytes buffered below a part are dropped).
        Idempotent; a no-op after commit."""


class LocationStorage(Protocol):
    """A storage location's files: read, written whole, listed, deleted."""

    @property
    def url(self) -> str:
        """The location's URL (credentials never appear in it)."""

    async def stat(self, path: str) -> ObjectInfo | None:
        """Return what is at ``path``, or ``None`` when nothing (committed) is."""

    def open_read(self, path: str, offset: int = 0) -> AsyncIterator[bytes]:
        """Yield the bytes of ``path`` from ``offset`` to its end, in chunks."""

    async def writer(self, path: str, *, resume: bool = False) -> LocationWriter:
        """Open a writer of ``path``; ``resume`` keeps the bytes a killed writer left."""

    async def delete(self, path: str) -> None:
        """Delete ``path`` (nothing there is no error)."""

    def walk(self, prefix: str = "") -> AsyncIterator[ObjectEntry]:
        """Yield every committed object under ``prefix`` (a directory; ``""``: all)."""

    async def aclose(self) -> None:
        """Release connections and descriptors (idempotent)."""
