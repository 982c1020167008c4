"""FileTransfer: a restart from byte 0 waits for segment writes still in their threads."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.services.transfer.fakes import DEADLINE, BlockingPart, transfer_over, until

from skyhaul.services.transfer.writer import INLINE_WRITE


async def test_restarting_from_zero_waits_for_segment_writes_still_running(
    tmp_path: Path,
) -> None:
    part = BlockingPart(tmp_path / "f.bin")
    transfer = transfer_over(part, tmp_path)
    part.open(truncate=True)
    stale = b"s" * INLINE_WRITE
    writer = asyncio.ensure_future(transfer._writer.write([stale], 0))
    await until(part.entered)
    writer.cancel()
    restart = asyncio.ensure_future(transfer._restart_from_zero())
    done, _ = await asyncio.wait([restart], timeout=0.2)
    assert not done
    part.go.set()
    await asyncio.wait_for(restart, DEADLINE)
    assert not transfer._writer._threads
    part.close()
