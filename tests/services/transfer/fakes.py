"""Small stand-ins for a transfer's ports, for tests that make no request."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from skyhaul.adapters.sinks import LocalSinks
from skyhaul.adapters.storage import PartFile
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileRecord, TransferOptions
from skyhaul.core.ranges import ByteRange, ContentRange
from skyhaul.core.retry import RetryPolicy
from skyhaul.ports.sink import Sink
from skyhaul.ports.transport import Body, RemoteInfo, Transport, Transports
from skyhaul.services.hostgate import GateRegistry
from skyhaul.services.transfer import FileTransfer, TransferRun

DEADLINE = 10.0
#: Bytes a ``PacedTransport`` body hands over at a time.
CHUNK = 16 << 10


class MemorySegmentMap:
    """A segment map kept in a dict (a ``SegmentMap``)."""

    def __init__(self) -> None:
        self.ranges: dict[int, list[tuple[int, int]]] = {}
        self.validators: dict[int, tuple[str | None, int | None]] = {}

    async def segments(self, file_id: int) -> list[tuple[int, int]]:
        return sorted(self.ranges.get(file_id, []))

    async def add_segments(self, file_id: int, ranges: Sequence[tuple[int, int]]) -> None:
        self.ranges.setdefault(file_id, []).extend(ranges)

    async def reset_segments(self, file_id: int) -> None:
        self.ranges.pop(file_id, None)

    async def set_validator(
        self,
        file_id: int,
        owner: str,
        *,
        validator: str | None,
        size: int | None,
        url: str | None = None,
    ) -> bool:
        self.validators[file_id] = (validator, size)
        return True


class NoTransports:
    """Transports for tests that never make a request."""

    def for_url(self, url: str) -> Transport:
        raise AssertionError(f"no request expected ({url})")

    async def close(self) -> None:
        return None


class BlockingPart(PartFile):
    """A part file whose writes wait for the test's go-ahead, in their thread."""

    def __init__(self, final: Path) -> None:
        super().__init__(final)
        self.entered = threading.Event()
        self.go = threading.Event()
        self.writes_after_close = 0

    def write_many_at(self, offset: int, buffers: Sequence[bytes]) -> None:
        self.entered.set()
        self.go.wait(DEADLINE)
        if not self.is_open:
            self.writes_after_close += 1
        super().write_many_at(offset, buffers)

    async def commit(self) -> None:
        raise AssertionError("nothing is committed here")


class ManualClock:
    """Monotonic seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class PacedBody:
    """A 206 answer whose chunks are handed over one at a time, each when ``pace`` returns."""

    def __init__(self, data: bytes, wanted: ByteRange, pace: Callable[[], Awaitable[None]]) -> None:
        self.partial = True
        self.content_range: ContentRange | None = ContentRange(wanted.start, wanted.end, len(data))
        self.info = RemoteInfo(size=len(data), etag='"v1"', validator='"v1"', accepts_ranges=True)
        self._data = data
        self._wanted = wanted
        self._pace = pace

    async def chunks(self) -> AsyncIterator[bytes]:
        for offset in range(self._wanted.start, self._wanted.end, CHUNK):
            await self._pace()
            yield self._data[offset : min(offset + CHUNK, self._wanted.end)]


class PacedTransport:
    """Serves ``data`` in ranges (a ``Transport`` and its ``Transports``), at the test's pace:
    every chunk of every body waits for ``pace`` first, as a network would."""

    def __init__(self, data: bytes, pace: Callable[[], Awaitable[None]]) -> None:
        self.data = data
        self.pace = pace

    def for_url(self, url: str) -> Transport:
        return self

    async def stat(self, url: str) -> RemoteInfo:
        return RemoteInfo(size=len(self.data), validator='"v1"', accepts_ranges=True)

    @asynccontextmanager
    async def _open(self, wanted: ByteRange) -> AsyncIterator[Body]:
        yield PacedBody(self.data, wanted, self.pace)

    def open(
        self, url: str, byte_range: ByteRange | None = None, if_range: str | None = None
    ) -> AbstractAsyncContextManager[Body]:
        assert byte_range is not None, "the tests ask ranges only"
        return self._open(byte_range)

    async def close(self) -> None:
        return None


def paced_transfer(
    transport: PacedTransport,
    tmp_path: Path,
    options: TransferOptions,
    *,
    segment_map: MemorySegmentMap,
    clock: Callable[[], float],
    sink: Sink | None = None,
) -> FileTransfer:
    """A transfer of ``transport.data`` (size known) into ``tmp_path/f.bin`` (or ``sink``),
    recording its durable ranges in ``segment_map``, on ``clock``."""
    size = len(transport.data)
    return _one_file(
        tmp_path, transport, options, segment_map, size=size, sink=sink, monotonic=clock
    )


def _one_file(
    tmp_path: Path,
    transports: Transports,
    options: TransferOptions,
    segment_map: MemorySegmentMap,
    *,
    size: int | None = None,
    sink: Sink | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> FileTransfer:
    """A transfer of ``f.bin`` under ``tmp_path`` (into ``sink``, or its part file)."""
    record = FileRecord(
        id=1,
        url="http://archive.example/f.bin",
        path="f.bin",
        dest_root=str(tmp_path),
        state=FileState.DOWNLOADING,
        size=size,
    )
    run = TransferRun(
        transports=transports,
        segment_map=segment_map,
        gates=GateRegistry(options.max_per_host, clock=lambda: 0.0),
        options=options,
        policy=RetryPolicy(),
        owner="test",
        monotonic=monotonic,
    )
    sink = LocalSinks().for_file(record) if sink is None else sink
    return FileTransfer(record=record, sink=sink, run=run)


def recorded(segment_map: MemorySegmentMap, file_id: int = 1) -> int:
    """Bytes the map holds as durable for ``file_id``."""
    return sum(end - start for start, end in segment_map.ranges.get(file_id, []))


async def eventually(condition: Callable[[], bool]) -> None:
    """Let the loop (and its worker threads) run until ``condition`` holds, at most the
    deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        assert loop.time() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.001)


def transfer_over(part: BlockingPart, tmp_path: Path) -> FileTransfer:
    """A transfer of one file into ``part`` that makes no request."""
    options = TransferOptions(max_per_host=4)
    return _one_file(tmp_path, NoTransports(), options, MemorySegmentMap(), sink=part)


async def until(condition: threading.Event) -> None:
    """Wait (off the loop) until ``condition`` is set, at most the deadline."""
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, condition.wait, DEADLINE)
