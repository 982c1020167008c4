"""Small stand-ins for a transfer's ports, for tests that make no request."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

from skyhaul.adapters.storage import PartFile
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileRecord, TransferOptions
from skyhaul.core.retry import RetryPolicy
from skyhaul.ports.transport import Transport
from skyhaul.services.hostgate import GateRegistry
from skyhaul.services.transfer import FileTransfer, TransferRun

DEADLINE = 10.0


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


def transfer_over(part: BlockingPart, tmp_path: Path) -> FileTransfer:
    """A transfer of one file into ``part`` that makes no request."""
    record = FileRecord(
        id=1,
        url="http://archive.example/f.bin",
        path="f.bin",
        dest_root=str(tmp_path),
        state=FileState.DOWNLOADING,
    )
    run = TransferRun(
        transports=NoTransports(),
        segment_map=MemorySegmentMap(),
        gates=GateRegistry(4, clock=lambda: 0.0),
        options=TransferOptions(),
        policy=RetryPolicy(),
        owner="test",
    )
    return FileTransfer(record=record, sink=part, run=run)


async def until(condition: threading.Event) -> None:
    """Wait (off the loop) until ``condition`` is set, at most the deadline."""
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, condition.wait, DEADLINE)
