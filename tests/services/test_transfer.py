"""FileTransfer's worker threads: nothing outlives the part file it writes or hashes.

A thread cannot be cancelled. A write or a hash still running in one when its transfer
is cancelled (or starts again from byte 0) must end before the descriptor is closed or
the file emptied; otherwise its bytes could land in the restarted stream, or in whatever
file reuses the descriptor's number.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from skyhaul.adapters.storage import PartFile
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileRecord, TransferOptions
from skyhaul.core.retry import RetryPolicy
from skyhaul.services import transfer as transfer_module
from skyhaul.services.hostgate import GateRegistry
from skyhaul.services.transfer import FileTransfer, TransferRun

DEADLINE = 10.0


async def _no_catalog(*args: Any, **kwargs: Any) -> None:
    return None


class _BlockingPart(PartFile):
    """A part file whose large writes wait for the test's go-ahead, in their thread."""

    def __init__(self, final: Path) -> None:
        super().__init__(final)
        self.entered = threading.Event()
        self.go = threading.Event()
        self.writes_after_close = 0

    def write_many_at(self, offset: int, buffers: list[bytes]) -> None:
        self.entered.set()
        self.go.wait(DEADLINE)
        if not self.is_open:
            self.writes_after_close += 1
        super().write_many_at(offset, buffers)


def _transfer(tmp_path: Path) -> tuple[FileTransfer, _BlockingPart]:
    record = FileRecord(
        id=1,
        url="http://archive.example/f.bin",
        path="f.bin",
        dest_root=str(tmp_path),
        state=FileState.DOWNLOADING,
    )
    part = _BlockingPart(tmp_path / "f.bin")
    gate = GateRegistry(4, clock=lambda: 0.0).for_url(record.url)
    run = TransferRun(
        transport=None,  # type: ignore[arg-type]  # nothing here makes a request
        options=TransferOptions(),
        policy=RetryPolicy(),
        catalog_call=_no_catalog,
        owner="test",
    )
    return FileTransfer(record=record, part=part, gate=gate, run=run), part


async def _until(condition: threading.Event) -> None:
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, condition.wait, DEADLINE)


async def test_a_cancelled_write_is_waited_for_before_the_part_file_closes(
    tmp_path: Path,
) -> None:
    transfer, part = _transfer(tmp_path)
    part.open(truncate=True)
    big = b"x" * transfer_module.INLINE_WRITE  # large enough for a worker thread
    writer = asyncio.ensure_future(transfer._write([big], 0))
    await _until(part.entered)
    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writer  # the caller is gone at once...
    settle = asyncio.ensure_future(transfer._settle_threads())
    done, _ = await asyncio.wait([settle], timeout=0.2)
    assert not done  # ...but the write is still running, so settling waits for it
    part.go.set()
    await asyncio.wait_for(settle, DEADLINE)
    part.close()
    assert part.writes_after_close == 0
    assert part.path.read_bytes() == big


async def test_restarting_from_zero_waits_for_segment_writes_still_running(
    tmp_path: Path,
) -> None:
    transfer, part = _transfer(tmp_path)
    part.open(truncate=True)
    stale = b"s" * transfer_module.INLINE_WRITE
    writer = asyncio.ensure_future(transfer._write([stale], 0))
    await _until(part.entered)
    writer.cancel()
    restart = asyncio.ensure_future(transfer._restart_from_zero())
    done, _ = await asyncio.wait([restart], timeout=0.2)
    assert not done
    part.go.set()
    await asyncio.wait_for(restart, DEADLINE)
    assert not transfer._thread_writes
    part.close()


async def test_stopping_the_hasher_waits_for_its_thread_and_ends_it_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transfer, part = _transfer(tmp_path)
    part.open(truncate=True)
    part.write_at(0, b"y" * (4 * transfer_module.HASH_BLOCK))
    transfer._hasher = transfer._new_hasher()
    reading = threading.Event()
    go = threading.Event()
    real_read = part.read_at
    reads: list[int] = []

    def slow_read(offset: int, size: int) -> bytes:
        reads.append(offset)
        reading.set()
        go.wait(DEADLINE)
        return real_read(offset, size)

    monkeypatch.setattr(part, "read_at", slow_read)
    transfer._hash_task = asyncio.ensure_future(
        asyncio.to_thread(transfer._hash_upto, 4 * transfer_module.HASH_BLOCK, 0)
    )
    await _until(reading)
    stop = asyncio.ensure_future(transfer._stop_hashing())
    done, _ = await asyncio.wait([stop], timeout=0.2)
    assert not done  # the thread is mid-block: stopping waits for it
    go.set()
    await asyncio.wait_for(stop, DEADLINE)
    assert reads == [0]  # it stopped after the block it was reading, not at the end
    assert transfer._hashed == transfer_module.HASH_BLOCK
    part.close()
