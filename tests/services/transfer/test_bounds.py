"""BodyWatch: the one rule every body is read under, whatever its transport.

The bodies here are plain async iterators (no socket): what an HTTP or an S3 body
yields is all the watch sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from tests.services.transfer.fakes import DEADLINE

from skyhaul.core.speedfloor import SpeedFloor
from skyhaul.errors import IntegrityError, ReadTimeoutError
from skyhaul.services.transfer.bounds import BodyWatch

OFF = SpeedFloor(0, 0)


async def _read(watch: BodyWatch, chunks: AsyncIterator[bytes]) -> int:
    async with watch:
        async for chunk in chunks:
            watch.take(len(chunk))
    return watch.received


async def _chunks(*sizes: int, then_wait: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    for size in sizes:
        yield b"x" * size
    if then_wait is not None:
        await then_wait.wait()  # a server that stops sending, keeping the connection


async def test_a_body_up_to_its_bound_is_read() -> None:
    assert await _read(BodyWatch(OFF, 10, "too much"), _chunks(4, 6)) == 10


async def test_the_chunk_past_the_bound_is_refused_before_it_counts() -> None:
    watch = BodyWatch(OFF, 10, "the server sent more than the 10 bytes of the file")
    with pytest.raises(IntegrityError, match="more than the 10 bytes"):
        await _read(watch, _chunks(4, 6, 1))
    assert watch.received == 10


async def test_no_bound_reads_everything() -> None:
    assert await _read(BodyWatch(OFF, None, ""), _chunks(1 << 20, 1 << 20)) == 2 << 20


async def test_a_body_that_stalls_under_the_floor_fails_as_a_read_timeout_mid_wait() -> None:
    floor = SpeedFloor(bytes_per_second=1024, seconds=0.2)
    stall = asyncio.Event()
    read = _read(BodyWatch(floor, None, ""), _chunks(100, then_wait=stall))
    with pytest.raises(ReadTimeoutError, match=r"slower than 1.0 KiB/s for 0.2s \(100 bytes\)"):
        await asyncio.wait_for(read, DEADLINE)


async def test_a_body_at_the_floor_is_never_interrupted() -> None:
    floor = SpeedFloor(bytes_per_second=1024, seconds=0.05)

    async def steady() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        end = loop.time() + 0.3
        while loop.time() < end:  # far faster than the floor, for several windows
            yield b"x" * 4096
            await asyncio.sleep(0)

    assert await asyncio.wait_for(_read(BodyWatch(floor, None, ""), steady()), DEADLINE) > 0


async def test_an_error_of_the_body_passes_through_the_watch() -> None:
    floor = SpeedFloor(bytes_per_second=1024, seconds=10.0)

    async def broken() -> AsyncIterator[bytes]:
        yield b"x"
        raise ConnectionResetError("cut")

    with pytest.raises(ConnectionResetError):
        await _read(BodyWatch(floor, None, ""), broken())


async def test_a_cancelled_read_stays_cancelled() -> None:
    floor = SpeedFloor(bytes_per_second=1024, seconds=10.0)
    task = asyncio.ensure_future(
        _read(BodyWatch(floor, None, ""), _chunks(1, then_wait=asyncio.Event()))
    )
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
