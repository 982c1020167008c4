"""What every location writer shares: its path, its count of bytes, and its end.

Rules:
- A writer is open until ``commit`` succeeds or ``abort`` is called; writing to a closed
  writer is a programming error (``RuntimeError``), not a storage one.
- ``commit`` is idempotent (a second call returns the first answer); ``abort`` is
  idempotent and does nothing after a commit. A commit that failed leaves the writer open
  to ``abort``, which then drops what it can.
- ``suspend`` ends a writer without committing, keeping what a later resume can use
  (a local part file, synced; an S3 upload's parts); a store that cannot resume drops
  it, as ``abort``.
- Subclasses do the I/O: ``_write``, ``_sync``, ``_commit``, ``_abort`` (``_suspend``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from skyhaul.ports.locations import ObjectInfo

__all__ = ["WriterBase"]


class WriterBase(ABC):
    """The bookkeeping of :class:`skyhaul.ports.locations.LocationWriter`.

    Parameters
    ----------
    path : str
        The object's path, relative to the location (already clean).
    offset : int, optional
        Bytes already durable when the writer opened (a resume).
    """

    def __init__(self, path: str, offset: int = 0) -> None:
        self._path = path
        self._resumed = offset
        self._size = offset
        self._committed: ObjectInfo | None = None
        self._aborted = False

    @property
    def path(self) -> str:
        """The object's path, relative to the location."""
        return self._path

    @property
    def size(self) -> int:
        """Bytes in the object so far (those found on resuming, then those written)."""
        return self._size

    def resume_offset(self) -> int:
        """Bytes found durable when the writer opened (0 unless resumed)."""
        return self._resumed

    def _check_open(self) -> None:
        if self._aborted or self._committed is not None:
            raise RuntimeError(f"writer of {self._path} is closed")

    async def write(self, chunk: bytes) -> None:
        """Append ``chunk``."""
        self._check_open()
        await self._write(chunk)
        self._size += len(chunk)

    async def sync(self) -> None:
        """Make the bytes written so far durable, where the store can."""
        self._check_open()
        await self._sync()

    async def commit(self) -> ObjectInfo:
        """Make the object appear whole under its path; return what it is (idempotent)."""
        if self._committed is not None:
            return self._committed
        self._check_open()
        self._committed = await self._commit()
        return self._committed

    async def abort(self) -> None:
        """Drop what was written (idempotent; nothing after a commit)."""
        if self._committed is not None or self._aborted:
            return
        self._aborted = True
        await self._abort()

    async def suspend(self) -> None:
        """Stop, keeping what is durable for a resume where the store can (idempotent;
        nothing after a commit)."""
        if self._committed is not None or self._aborted:
            return
        self._aborted = True
        await self._suspend()

    async def _suspend(self) -> None:
        """Keep what can be resumed; by default nothing can: drop it."""
        await self._abort()

    @abstractmethod
    async def _write(self, chunk: bytes) -> None: ...

    @abstractmethod
    async def _sync(self) -> None: ...

    @abstractmethod
    async def _commit(self) -> ObjectInfo: ...

    @abstractmethod
    async def _abort(self) -> None: ...
