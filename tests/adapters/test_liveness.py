"""Health keys of workers and managers in a real Redis (database 13)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from skyhaul.adapters.liveness import Liveness, ServiceHealth, live_services
from skyhaul.errors import ConfigError

STARTED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def service_type(redis_token: str) -> str:
    """A service type of this test only, so listings see no other test's services."""
    return redis_token


@pytest.fixture
def client(redis_client: aioredis.Redis) -> aioredis.Redis:
    return redis_client


async def test_the_key_holds_the_document_with_its_expiry(
    redis_url: str, client: aioredis.Redis, service_type: str
) -> None:
    live = Liveness(redis_url, service_type, "w1", queues=["downloads"], clock=lambda: STARTED)
    async with live:
        live.holding(["lease:file:7", "slot:archive.example"])
        await live.beat()
        key = f"health:{service_type}:w1"
        assert 80_000 < await client.pttl(key) <= 90_000
        document = json.loads(await client.get(key))
        assert document == {
            "service_type": service_type,
            "name": "w1",
            "host": live.health.host,
            "pid": os.getpid(),
            "queues": ["downloads"],
            "started": STARTED.isoformat(),
            "holding": ["lease:file:7", "slot:archive.example"],
        }
        # A beat renews the expiry.
        await client.pexpire(key, 1000)
        await live.beat()
        assert await client.pttl(key) > 80_000
    assert await client.exists(key) == 0  # a clean stop removes it at once


async def test_the_loop_refreshes_and_a_stopped_service_expires(
    redis_url: str, client: aioredis.Redis, service_type: str
) -> None:
    beats = 0

    async def counted_sleep(seconds: float) -> None:
        nonlocal beats
        beats += 1
        await asyncio.sleep(seconds)

    live = Liveness(redis_url, service_type, "w2", interval=0.05, expiry=0.3, sleep=counted_sleep)
    key = live.health.key
    async with live:
        deadline = time.monotonic() + 3
        while beats < 10:  # ten beats: well past one expiry, the key is still there
            assert time.monotonic() < deadline, "the loop does not beat"
            assert await client.exists(key) == 1
            await asyncio.sleep(0.01)
        await live.close(forget=False)  # stops as a killed service does: no delete
        assert await client.exists(key) == 1
        deadline = time.monotonic() + 3
        while await client.exists(key):
            assert time.monotonic() < deadline, "the key of a stopped service did not expire"
            await asyncio.sleep(0.02)


async def test_listing_reads_the_live_services_only(
    redis_url: str, client: aioredis.Redis, service_type: str
) -> None:
    async with (
        Liveness(redis_url, service_type, "b", queues=["q1", "q2"], clock=lambda: STARTED),
        Liveness(redis_url, service_type, "a", clock=lambda: STARTED),
    ):
        await client.set(f"health:{service_type}:junk", "not json")
        await client.set(f"health:{service_type}:partial", json.dumps({"name": "x"}))
        found = await live_services(redis_url, service_types=[service_type])
        assert [(s.name, s.queues) for s in found] == [("a", ()), ("b", ("q1", "q2"))]
        assert found[0] == ServiceHealth(
            service_type, "a", found[0].host, os.getpid(), (), STARTED, ()
        )
        assert await live_services(redis_url, service_types=["no-such-type"]) == []
    assert await live_services(redis_url, service_types=[service_type]) == []


async def test_a_redis_that_is_down_is_one_config_error() -> None:
    with pytest.raises(ConfigError, match=r"Redis at redis://127\.0\.0\.1:1/0"):
        await live_services("redis://127.0.0.1:1/0")
    with pytest.raises(ConfigError, match="Redis at"):
        async with Liveness("redis://127.0.0.1:1/0", "worker", "w"):
            pass


def test_the_interval_must_be_below_the_expiry(redis_url: str) -> None:
    with pytest.raises(ValueError, match="interval"):
        Liveness(redis_url, "worker", "w", interval=90, expiry=90)
