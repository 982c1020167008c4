"""The sink seam: where a transfer's bytes land before the file is promoted.

Rules:
- A sink holds one file's bytes at offsets (ranges arrive out of order) until ``commit``
  makes the complete, verified file appear under its final name, at once. Nothing else
  ever writes a final name, so a final name is always complete and verified.
- ``sync`` is the durability point: bytes written before it survive a crash, and only
  then may the transfer record them in the catalog's segment map.
- ``read_at`` serves the in-order hash of bytes written out of order.
- The blocking calls (``write_many_at``, ``read_at``, ``sync``, ...) may run in a worker
  thread; ``commit`` is a coroutine because promotion is batched across files.
- Errors are skyhaul's: ``DiskFullError`` (the run stops), ``DiskError`` (the attempt
  fails), ``PathEscapeError`` (the destination is refused).
- Today the sink is a local part file (``adapters.sinks.LocalSinks``); an object-store
  multipart upload plugs in behind the same calls without touching the transfer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from skyhaul.core.model import FileRecord

__all__ = ["Sink", "Sinks"]


class Sink(Protocol):
    """One file's bytes on their way to the final name."""

    @property
    def is_open(self) -> bool:
        """True between ``open`` and ``close``."""

    def existing_size(self) -> int:
        """Bytes an earlier attempt left behind (0 if none): checked against the map."""

    def open(self, *, truncate: bool) -> None:
        """Open for writing and reading; ``truncate`` starts it empty."""

    def write_many_at(self, offset: int, buffers: Sequence[bytes]) -> None:
        """Write ``buffers`` back to back from ``offset``."""

    def read_at(self, offset: int, size: int) -> bytes:
        """Read up to ``size`` bytes at ``offset``."""

    def truncate(self, size: int) -> None:
        """Set the length (0 starts again)."""

    def size(self) -> int:
        """Current length."""

    def sync(self) -> None:
        """Make every byte written so far durable."""

    def close(self) -> None:
        """Release the descriptor (idempotent); the bytes stay for a resume."""

    def discard(self) -> None:
        """Close and delete the bytes (after an integrity failure)."""

    async def commit(self) -> None:
        """Make the verified file appear under its final name, durably."""


class Sinks(Protocol):
    """Where the files of a run are written."""

    def for_file(self, record: FileRecord) -> Sink:
        """Return the sink of a claimed file (its destination checked).

        Raises
        ------
        PathEscapeError
            The destination leads outside its root.
        """
