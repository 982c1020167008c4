"""Which bytes of an in-flight file are written, and which are durable.

Rules:
- A ``Slot`` is one range request's progress: bytes from ``start`` to ``written`` are in
  the part file; up to ``durable`` they are fsynced and recorded in the catalog.
- ``Checkpointer.flush`` fsyncs the part file, then records each slot's newly durable
  bytes. It runs in the background whenever undurable bytes pass a threshold (half a
  segment), so a hard kill loses at most about one segment per file, whatever the
  number of parallel ranges.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from skyhaul.core.ranges import ByteRange, contiguous_prefix, merge_ranges

if TYPE_CHECKING:
    from skyhaul.services.transfer import FileTransfer


@dataclass(slots=True)
class Slot:
    """Progress of one range request."""

    start: int
    written: int
    durable: int


class SegmentLedger:
    """Written and durable byte ranges of one file during one attempt.

    Parameters
    ----------
    done : list of ByteRange
        Ranges already durable when the attempt started (from the catalog).
    """

    def __init__(self, done: list[ByteRange]) -> None:
        self._done = merge_ranges(done)
        self.slots: list[Slot] = []

    def open_slot(self, position: int) -> Slot:
        """Start tracking a request whose bytes begin at ``position``."""
        slot = Slot(start=position, written=position, durable=position)
        self.slots.append(slot)
        return slot

    def done_ranges(self) -> list[ByteRange]:
        """Ranges durable before this attempt."""
        return list(self._done)

    def covered(self) -> int:
        """Bytes present in the part file (durable before, or written now)."""
        return sum(r.length for r in self.written_ranges())

    def contiguous_written(self) -> int:
        """Bytes from 0 written without a gap (what can be hashed in order)."""
        return contiguous_prefix(self.written_ranges())

    def undurable(self) -> int:
        """Bytes written but not yet recorded as durable."""
        return sum(slot.written - slot.durable for slot in self.slots)

    def written_ranges(self) -> list[ByteRange]:
        """Ranges present in the part file: durable before, or written in this attempt."""
        extra = [ByteRange(s.start, s.written) for s in self.slots if s.written > s.start]
        return merge_ranges([*self._done, *extra])


class Checkpointer:
    """Make written bytes durable and record them, in the background.

    Parameters
    ----------
    transfer : FileTransfer
        The transfer whose part file and ledger are checkpointed.
    threshold : int
        Undurable bytes that trigger a background flush.
    """

    def __init__(self, transfer: FileTransfer, threshold: int) -> None:
        self.transfer = transfer
        self.threshold = max(1, threshold)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Start a background flush when enough bytes are undurable."""
        ledger = self.transfer.ledger
        if ledger is None or (self._task is not None and not self._task.done()):
            return
        if ledger.undurable() >= self.threshold:
            self._task = asyncio.ensure_future(self.flush())

    async def flush(self) -> None:
        """fsync the part file, then record every slot's newly durable bytes."""
        async with self._lock:
            ledger = self.transfer.ledger
            if ledger is None or not self.transfer.part.is_open:
                return
            snapshot = [
                (slot, slot.written) for slot in ledger.slots if slot.written > slot.durable
            ]
            if not snapshot:
                return
            await asyncio.to_thread(self.transfer.part.sync)
            file_id = self.transfer.record.id
            ranges = [(slot.durable, upto) for slot, upto in snapshot]
            await self.transfer.run.catalog_call("add_segments", file_id, ranges)
            for slot, upto in snapshot:
                slot.durable = upto

    async def close(self) -> None:
        """Wait for a background flush, then flush what is left."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()
