"""InOrderHash: stopping waits for the hashing thread and ends it at its next block."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from pathlib import Path

import pytest
from tests.services.transfer.fakes import DEADLINE, BlockingPart, until

from skyhaul.core.integrity import parse_checksum
from skyhaul.services.transfer.hashing import HASH_BLOCK, InOrderHash


async def test_stopping_the_hasher_waits_for_its_thread_and_ends_it_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    part = BlockingPart(tmp_path / "f.bin")
    part.open(truncate=True)
    part.write_at(0, b"y" * (4 * HASH_BLOCK))
    hashing = InOrderHash(part, ())
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
    hashing.kick(4 * HASH_BLOCK, final=True)
    await until(reading)
    stop = asyncio.ensure_future(hashing.stop())
    done, _ = await asyncio.wait([stop], timeout=0.2)
    assert not done  # the thread is mid-block: stopping waits for it
    go.set()
    await asyncio.wait_for(stop, DEADLINE)
    assert reads == [0]  # it stopped after the block it was reading, not at the end
    assert hashing.hashed == HASH_BLOCK
    part.close()


async def test_a_prefix_is_hashed_in_order_with_the_expected_algorithm_too(
    tmp_path: Path,
) -> None:
    part = BlockingPart(tmp_path / "f.bin")
    part.open(truncate=True)
    data = bytes(range(256)) * 40_000
    part.write_at(0, data)
    md5 = parse_checksum("md5:" + hashlib.md5(data).hexdigest())
    hashing = InOrderHash(part, (md5, None))
    hashing.kick(len(data) // 2, final=True)
    digests = await hashing.finish(len(data))
    part.close()
    assert digests["sha256"] == hashlib.sha256(data).hexdigest()
    assert digests["md5"] == md5.hexdigest
