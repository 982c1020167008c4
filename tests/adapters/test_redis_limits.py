"""Per-host slots and pace in a real Redis (database 13), shared by several clients."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from skyhaul.adapters.redis_client import connect
from skyhaul.adapters.redis_limits import HostRate, HostSemaphore, RedisHostLimits
from skyhaul.errors import ConfigError
from skyhaul.ports.limits import SharedHostLimits


@pytest.fixture
def prefix(redis_token: str) -> str:
    return f"skyhaul-{redis_token}"


@pytest.fixture
def client(redis_client: aioredis.Redis) -> aioredis.Redis:
    return redis_client


async def test_never_more_holders_than_the_limit_under_fifty_acquirers(
    client: aioredis.Redis, prefix: str
) -> None:
    semaphore = HostSemaphore(client, "archive.example", 5, prefix=prefix)
    admitted = await asyncio.gather(*(semaphore.acquire(f"w{i}", 30) for i in range(50)))
    assert sum(admitted) == 5
    assert sorted(await semaphore.holders()) == sorted(
        f"w{i}" for i, ok in enumerate(admitted) if ok
    )
    # A holder that already holds is refreshed, not counted twice; a released slot is free.
    first = next(f"w{i}" for i, ok in enumerate(admitted) if ok)
    assert await semaphore.acquire(first, 30)
    assert len(await semaphore.holders()) == 5
    await semaphore.release(first)
    assert await semaphore.acquire("newcomer", 30)
    assert not await semaphore.acquire("one-too-many", 30)


async def test_two_clients_share_one_semaphore(
    redis_url: str, client: aioredis.Redis, prefix: str
) -> None:
    other = connect(redis_url)
    try:
        mine = HostSemaphore(client, "h", 2, prefix=prefix)
        theirs = HostSemaphore(other, "h", 2, prefix=prefix)
        results = await asyncio.gather(
            *(s.acquire(f"{n}{i}", 30) for i in range(10) for n, s in (("a", mine), ("b", theirs)))
        )
        assert sum(results) == 2
        assert not await theirs.acquire("late", 30)
    finally:
        await other.aclose()


async def test_an_expired_holder_frees_its_slot_and_cannot_refresh(
    client: aioredis.Redis, prefix: str
) -> None:
    semaphore = HostSemaphore(client, "h", 1, prefix=prefix)
    assert await semaphore.acquire("dies", 0.05)
    assert not await semaphore.acquire("waits", 30)
    deadline = time.monotonic() + 3
    while not await semaphore.acquire("waits", 30):
        assert time.monotonic() < deadline, "the expired holder kept its slot"
        await asyncio.sleep(0.01)
    assert not await semaphore.refresh("dies", 30)  # lost: not taken back
    assert await semaphore.holders() == ["waits"]
    assert await semaphore.refresh("waits", 30)


async def test_refresh_extends_the_slot_and_the_key_expires_with_its_last_holder(
    client: aioredis.Redis, prefix: str
) -> None:
    semaphore = HostSemaphore(client, "h", 3, prefix=prefix)
    assert await semaphore.acquire("a", 2)
    assert 0 < await client.pttl(semaphore.key) <= 2000
    assert await semaphore.refresh("a", 60)
    assert 2000 < await client.pttl(semaphore.key) <= 60_000
    await semaphore.release("a")
    assert await semaphore.holders() == []


async def test_gcra_allows_the_burst_then_paces_at_the_rate(
    client: aioredis.Redis, prefix: str
) -> None:
    rate = HostRate(client, prefix=prefix)
    waits = [await rate.allow("h", 10, 4) for _ in range(4)]
    assert waits == [0, 0, 0, 0]
    wait = await rate.allow("h", 10, 4)
    assert 0.05 < wait <= 0.1  # about 1/rate (less the time the calls took)
    assert await rate.allow("h", 10, 4) > 0  # a refused request is not counted...
    await asyncio.sleep(wait)  # ...so waiting what it said is enough
    assert await rate.allow("h", 10, 4) == 0
    assert await rate.allow("other-host", 10, 1) == 0  # hosts are paced apart


async def test_two_clients_share_one_rate(
    redis_url: str, client: aioredis.Redis, prefix: str
) -> None:
    other = connect(redis_url)
    try:
        limits: list[SharedHostLimits] = [
            RedisHostLimits(client, prefix=prefix),
            RedisHostLimits(other, prefix=prefix),
        ]
        waits = await asyncio.gather(*(limits[i % 2].allow("h", 1, 3) for i in range(10)))
        assert sum(w == 0 for w in waits) == 3
        assert all(0.9 < w <= 1 for w in waits if w)
        slots = limits[1].semaphore("h", 1)
        assert await slots.acquire("x", 30)
        assert not await limits[0].semaphore("h", 1).acquire("y", 30)
    finally:
        await other.aclose()


async def test_bad_arguments_are_refused(client: aioredis.Redis, prefix: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        await HostRate(client, prefix=prefix).allow("h", 0, 1)
    with pytest.raises(ValueError, match="burst"):
        await HostRate(client, prefix=prefix).allow("h", 1, 0)
    with pytest.raises(ValueError, match="time-to-live"):
        await HostSemaphore(client, "h", 1, prefix=prefix).acquire("a", 0)


async def test_a_redis_that_is_down_is_one_config_error() -> None:
    down = connect("redis://:secret@127.0.0.1:1/13")
    try:
        with pytest.raises(ConfigError, match=r"Redis at redis://127\.0\.0\.1:1/13") as caught:
            await HostSemaphore(down, "h", 1).acquire("a", 1)
        assert "secret" not in str(caught.value)
        assert "\n" not in str(caught.value)
        with pytest.raises(ConfigError):
            await HostRate(down).allow("h", 1, 1)
    finally:
        await down.aclose()


def test_a_url_that_is_not_redis_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="bad Redis URL") as caught:
        connect("http://:secret@example.org/")
    assert "secret" not in str(caught.value)
