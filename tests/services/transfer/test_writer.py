"""SinkWriter: a write still running in its thread is waited for, never abandoned.

A thread cannot be cancelled. A write still running in one when its caller is cancelled
must end before the descriptor is closed or the file emptied; otherwise its bytes could
land in a restarted stream, or in whatever file reuses the descriptor's number.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.services.transfer.fakes import DEADLINE, BlockingPart, until

from skyhaul.services.transfer.writer import INLINE_WRITE, SinkWriter


async def test_a_cancelled_write_is_waited_for_before_the_part_file_closes(
    tmp_path: Path,
) -> None:
    part = BlockingPart(tmp_path / "f.bin")
    part.open(truncate=True)
    writer = SinkWriter(part)
    big = b"x" * INLINE_WRITE  # large enough for a worker thread
    writing = asyncio.ensure_future(writer.write([big], 0))
    await until(part.entered)
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing  # the caller is gone at once...
    settle = asyncio.ensure_future(writer.settle())
    done, _ = await asyncio.wait([settle], timeout=0.2)
    assert not done  # ...but the write is still running, so settling waits for it
    part.go.set()
    await asyncio.wait_for(settle, DEADLINE)
    part.close()
    assert part.writes_after_close == 0
    assert part.path.read_bytes() == big


async def test_small_writes_are_inline_and_then_sees_the_buffers(tmp_path: Path) -> None:
    part = BlockingPart(tmp_path / "f.bin")
    part.go.set()
    part.open(truncate=True)
    seen: list[bytes] = []
    end = await SinkWriter(part).write([b"ab", b"cd"], 0, seen.extend)
    part.close()
    assert end == 4
    assert seen == [b"ab", b"cd"]
    assert part.path.read_bytes() == b"abcd"
