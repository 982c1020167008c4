"""Checkpoints: written bytes become durable by bytes or by time, whichever comes first.

A hard kill loses what was received but not yet recorded in the segment map. The byte
rule bounds that for fast transfers (about half a segment per file, whatever the number
of parallel ranges); the time rule bounds it for slow ones, whose bytes would otherwise
wait minutes for the byte threshold. Bodies are paced by the test (every chunk waits for
its go-ahead, as on a network) and the clock is the test's, so nothing waits for time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from pathlib import Path

from tests.services.transfer.fakes import (
    CHUNK,
    DEADLINE,
    ManualClock,
    MemorySegmentMap,
    PacedTransport,
    eventually,
    paced_transfer,
    recorded,
    until,
)

from skyhaul.adapters.sinks import LocalSink
from skyhaul.adapters.storage import DestinationRoot, PartFile, Promoter
from skyhaul.core.model import TransferOptions
from skyhaul.services.transfer.checkpoint import Checkpointer, SegmentLedger

MIB = 1 << 20
SEGMENT = 1 * MIB  # batches of 128 KiB, checkpoints every 512 KiB by bytes


def _data(size: int) -> bytes:
    return bytes(range(256)) * (size // 256)


async def test_a_slow_transfer_is_checkpointed_after_the_interval_below_the_byte_threshold(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    let_through = asyncio.Semaphore(0)
    handed = 0

    async def pace() -> None:
        nonlocal handed
        await let_through.acquire()
        handed += 1

    segment_map = MemorySegmentMap()
    transport = PacedTransport(_data(2 * SEGMENT), pace)
    options = TransferOptions(segment_size=SEGMENT, checkpoint_interval=1.0)
    transfer = paced_transfer(transport, tmp_path, options, segment_map=segment_map, clock=clock)
    running = asyncio.ensure_future(transfer.execute())
    try:
        for _ in range(3):  # 48 KiB: below a write batch and the byte threshold
            let_through.release()
        await eventually(lambda: handed == 3)
        assert recorded(segment_map) == 0
        clock.now += 1.0  # a second on, one more chunk: the time rule is due
        let_through.release()
        await eventually(lambda: recorded(segment_map) == 4 * CHUNK)
        assert segment_map.ranges[1] == [(0, 4 * CHUNK)]
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_parallel_ranges_leave_less_than_a_segment_unrecorded(tmp_path: Path) -> None:
    # Sixteen ranges of one file at once, the disk faster than the network (a chunk waits
    # for a checkpoint under way), the clock standing still (the byte rule alone): before
    # every chunk, what the map leaves out of the bytes received (what a kill costs, but
    # for the bytes still on their way) is below one segment; of the bytes written (the
    # ranges' batches aside), below half a segment.
    clock = ManualClock()
    segment_map = MemorySegmentMap()
    worst_written = worst_received = 0

    async def pace() -> None:
        nonlocal worst_written, worst_received
        await asyncio.sleep(0)  # a network hands over one chunk at a time
        checkpointer = transfer._checkpointer
        if checkpointer is not None:
            await checkpointer.idle()
        assert transfer.ledger is not None
        durable = recorded(segment_map)
        worst_written = max(worst_written, transfer.ledger.covered() - durable)
        worst_received = max(worst_received, transfer.fetched - durable)

    data = _data(17 * SEGMENT)  # the first range alone, then sixteen at once
    transport = PacedTransport(data, pace)
    options = TransferOptions(segment_size=SEGMENT, max_per_host=32)  # a window of 16
    transfer = paced_transfer(transport, tmp_path, options, segment_map=segment_map, clock=clock)
    completion = await asyncio.wait_for(transfer.execute(), 60)
    assert completion.size == len(data)
    assert (tmp_path / "f.bin").read_bytes() == data
    assert 0 < worst_written < SEGMENT // 2, f"{worst_written:,} bytes written, not recorded"
    assert worst_received < SEGMENT, f"{worst_received:,} bytes received, not recorded"


class StuckSync(LocalSink):
    """A part file whose sync hangs, in its thread, once ``stick()`` says so, until ``go``."""

    def __init__(self, tmp_path: Path, stick: Callable[[], bool]) -> None:
        super().__init__(tmp_path / "f.bin", Promoter(), DestinationRoot(tmp_path))
        self.stick = stick
        self.stuck = threading.Event()
        self.go = threading.Event()

    def sync(self) -> None:
        if not self.go.is_set() and self.stick():
            self.stuck.set()
            assert self.go.wait(DEADLINE)
        super().sync()


async def test_a_disk_slower_than_the_network_holds_the_ranges_back(tmp_path: Path) -> None:
    # Sixteen ranges arrive as fast as the loop turns, and a checkpoint's fsync hangs:
    # the ranges stop reading once about a segment is received and not recorded (a chunk
    # each may come in before they see it), and go on when the fsync returns.
    clock = ManualClock()
    segment_map = MemorySegmentMap()
    worst = 0

    async def pace() -> None:
        nonlocal worst
        await asyncio.sleep(0)  # a network hands over one chunk at a time
        worst = max(worst, transfer.fetched - recorded(segment_map))

    data = _data(17 * SEGMENT)
    sink = StuckSync(tmp_path, stick=lambda: transfer.fetched > 2 * SEGMENT)
    options = TransferOptions(segment_size=SEGMENT, max_per_host=32)  # a window of 16
    transfer = paced_transfer(
        PacedTransport(data, pace),
        tmp_path,
        options,
        segment_map=segment_map,
        clock=clock,
        sink=sink,
    )
    running = asyncio.ensure_future(transfer.execute())
    try:
        await until(sink.stuck)
        received = -1
        while received != transfer.fetched:  # let the loop turn until reading stops
            received = transfer.fetched
            for _ in range(100):
                await asyncio.sleep(0)
        bound = SEGMENT + 16 * CHUNK
        assert transfer.fetched - recorded(segment_map) <= bound
        assert transfer.fetched < len(data)
    finally:
        sink.go.set()
    completion = await asyncio.wait_for(running, 60)
    assert completion.size == len(data)
    assert (tmp_path / "f.bin").read_bytes() == data
    assert worst <= bound, f"{worst:,} bytes received, not recorded"


class CountedPart(PartFile):
    """A part file that counts its syncs."""

    syncs = 0

    def sync(self) -> None:
        self.syncs += 1
        super().sync()


async def test_the_time_rule_records_new_bytes_once_due_and_nothing_else(tmp_path: Path) -> None:
    clock = ManualClock()
    segment_map = MemorySegmentMap()
    part = CountedPart(tmp_path / "f.bin")
    part.open(truncate=True)
    ledger = SegmentLedger([])
    checkpointer = Checkpointer(
        1, part, segment_map, ledger, threshold=SEGMENT // 2, interval=1.0, clock=clock
    )
    slot = ledger.open_slot(0)
    part.write_many_at(0, [b"x" * CHUNK])
    slot.written = CHUNK
    checkpointer.wrote(CHUNK)
    await checkpointer.idle()
    assert (recorded(segment_map), part.syncs) == (0, 0)  # neither rule is due
    clock.now += 1.0
    checkpointer.poke()
    await checkpointer.idle()
    assert (segment_map.ranges[1], part.syncs) == ([(0, CHUNK)], 1)
    clock.now += 5.0
    checkpointer.poke()  # due by time, but nothing new: no sync, no record
    await checkpointer.idle()
    assert (segment_map.ranges[1], part.syncs) == ([(0, CHUNK)], 1)
    await checkpointer.close()
    part.close()
