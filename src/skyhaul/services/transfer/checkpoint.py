"""Which bytes of an in-flight file are written, and which are durable.

Rules:
- A ``Slot`` is one range request's progress: bytes from ``start`` to ``written`` are in
  the sink; up to ``durable`` they are synced and recorded in the catalog.
- ``Checkpointer.flush`` syncs the sink, then records each slot's newly durable bytes in
  the segment map. It runs in the background by bytes or by time, whichever comes first:
  when the bytes written since the last one pass a threshold (half a segment), or when
  any were written and ``interval`` seconds have passed since the last one began. A
  flush takes what was written when it starts; ``unrecorded`` counts what is not
  recorded yet, in the flush under way or since, so that a writer can wait (``idle``)
  rather than let it grow past what a kill may cost (``FileTransfer``: one segment).
- The rules are weighed at every write (``wrote``), not by a timer: a file that receives
  nothing has nothing new to make durable. A writer that holds received bytes back
  writes them by ``due``.
- It knows the sink, the segment map and the ledger, never the transfer around it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from skyhaul.core.ranges import ByteRange, contiguous_prefix, merge_ranges
from skyhaul.ports.catalog import SegmentMap
from skyhaul.ports.sink import Sink

__all__ = ["Checkpointer", "SegmentLedger", "Slot"]


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
        """Bytes present in the sink (durable before, or written now)."""
        return sum(r.length for r in self.written_ranges())

    def contiguous_written(self) -> int:
        """Bytes from 0 written without a gap (what can be hashed in order)."""
        return contiguous_prefix(self.written_ranges())

    def written_ranges(self) -> list[ByteRange]:
        """Ranges present in the sink: durable before, or written in this attempt."""
        extra = [ByteRange(s.start, s.written) for s in self.slots if s.written > s.start]
        return merge_ranges([*self._done, *extra])


class Checkpointer:
    """Make written bytes durable and record them, in the background.

    Parameters
    ----------
    file_id : int
        The file whose map is written.
    sink : Sink
        Synced before any range is recorded.
    segment_map : SegmentMap
        Where durable ranges are recorded.
    ledger : SegmentLedger
        The attempt's slots.
    threshold : int
        Undurable bytes that trigger a background flush.
    interval : float
        Seconds after which any undurable bytes trigger one.
    clock : callable
        Monotonic seconds.

    Attributes
    ----------
    due : float
        When the time rule asks for the next checkpoint (``clock`` seconds): a writer
        that holds received bytes back should write them by then.
    """

    def __init__(
        self,
        file_id: int,
        sink: Sink,
        segment_map: SegmentMap,
        ledger: SegmentLedger,
        *,
        threshold: int,
        interval: float,
        clock: Callable[[], float],
    ) -> None:
        self.file_id = file_id
        self.sink = sink
        self.segment_map = segment_map
        self.ledger = ledger
        self.threshold = max(1, threshold)
        self.interval = interval
        self._clock = clock
        self.due = clock() + interval
        self._unflushed = 0  # bytes written since the last flush took its snapshot
        self._flushing = 0  # bytes of the snapshot of the flush under way
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def unrecorded(self) -> int:
        """Bytes written and not recorded yet: in the flush under way, or since."""
        return self._unflushed + self._flushing

    def wrote(self, nbytes: int) -> None:
        """Count bytes just written into a slot; flush when a rule asks (``poke``)."""
        self._unflushed += nbytes
        self.poke()

    def poke(self) -> None:
        """Start a background flush when a rule asks for one: bytes written since the
        last one past the threshold, or any once ``due``."""
        if not self._unflushed or (self._task is not None and not self._task.done()):
            return
        now = self._clock()
        if self._unflushed >= self.threshold or now >= self.due:
            self.due = now + self.interval
            self._task = asyncio.ensure_future(self.flush())

    async def flush(self) -> None:
        """Sync the sink, then record every slot's newly durable bytes."""
        async with self._lock:
            if not self.sink.is_open:
                return
            snapshot = [
                (slot, slot.written) for slot in self.ledger.slots if slot.written > slot.durable
            ]
            self._unflushed = 0
            if not snapshot:
                return
            self._flushing = sum(upto - slot.durable for slot, upto in snapshot)
            try:
                await asyncio.to_thread(self.sink.sync)
                ranges = [(slot.durable, upto) for slot, upto in snapshot]
                await self.segment_map.add_segments(self.file_id, ranges)
            except BaseException:
                self._unflushed += self._flushing  # still to be recorded
                raise
            finally:
                self._flushing = 0
            for slot, upto in snapshot:
                slot.durable = upto

    async def idle(self) -> None:
        """Wait until no background flush is under way (its error is left to ``close``)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    async def close(self) -> None:
        """Wait for a background flush, then flush what is left."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()
