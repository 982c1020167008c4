"""Shared host gates over a real Redis (the shared test database, every key named by
the test): two registries stand for two workers.

Without Redis these tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from skyhaul.adapters.catalog import open_catalog
from skyhaul.adapters.catalog.async_catalog import AsyncCatalog
from skyhaul.adapters.redis_client import connect
from skyhaul.adapters.redis_limits import HostSemaphore, RedisHostLimits
from skyhaul.core.windowchange import HostDecision
from skyhaul.errors import ThrottledError
from skyhaul.ports.limits import SharedHostLimits
from skyhaul.services import shared_gate
from skyhaul.services.shared_gate import SharedGateRegistry

HOST = "archive.example:443"
URL = f"https://{HOST}/data/f.fits"
T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
async def client(redis_url: str, redis_token: str) -> AsyncIterator[aioredis.Redis]:
    """A client of the shared test database (the ``redis_url`` fixture skips without
    Redis); every key holds the test's token, so nothing else is touched."""
    opened = connect(redis_url)
    yield opened
    keys = [k async for k in opened.scan_iter(match=f"*{redis_token}*")]
    if keys:
        await opened.delete(*keys)
    await opened.aclose()


@pytest.fixture
def limits(client: aioredis.Redis, redis_token: str) -> SharedHostLimits:
    return RedisHostLimits(client, prefix=redis_token)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[AsyncCatalog]:
    opened = open_catalog(f"sqlite:///{tmp_path}/catalog.db")
    windows = AsyncCatalog(opened)
    yield windows
    windows.close()
    opened.close()


def _registry(
    limits: SharedHostLimits,
    owner: str,
    *,
    ceiling: int = 2,
    learned: HostDecision | None = None,
    windows: AsyncCatalog | None = None,
    max_pause: float = 600.0,
    now: Callable[[], datetime] = lambda: T0,
) -> SharedGateRegistry:
    registry = SharedGateRegistry(
        ceiling,
        asyncio.get_running_loop().time,
        max_pause,
        limits=limits,
        owner=owner,
        ttl=30.0,
        windows=windows,
        learned={} if learned is None else {HOST: learned},
        now=now,
    )
    registry.start()
    return registry


async def test_two_workers_together_never_exceed_the_window(
    limits: SharedHostLimits, client: aioredis.Redis, redis_token: str
) -> None:
    # Each worker's window is 2: alone, each would run 2 at once, 4 together.
    workers = [_registry(limits, f"w{i}") for i in range(2)]
    running = peak = 0

    async def request(registry: SharedGateRegistry) -> None:
        nonlocal running, peak
        gate = registry.for_url(URL)
        started = await gate.acquire()
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        gate.release(started)

    try:
        await asyncio.gather(*(request(w) for w in workers for _ in range(12)))
        assert all(w.for_url(URL).controller.window == 2 for w in workers)
        assert peak == 2
    finally:
        for registry in workers:
            await registry.close()
    # Every slot was given back.
    assert await HostSemaphore(client, HOST, 2, prefix=redis_token).holders() == []


async def test_the_shared_pace_holds_both_workers_together(
    limits: SharedHostLimits, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both start from a stored decision of 10 requests/s; one worker counted on the host
    # (no refresh), so the shared pace is 10/s for both together, not 10/s each.
    monkeypatch.setattr(shared_gate, "REFRESH_SECONDS", 60.0)
    learned = HostDecision(HOST, 2, 10.0, "429", T0, "w0")
    workers = [_registry(limits, f"w{i}", learned=learned) for i in range(2)]
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def request(registry: SharedGateRegistry) -> None:
        gate = registry.for_url(URL)
        started = await gate.acquire()
        starts.append(loop.time())
        gate.release(started)

    try:
        assert workers[0].for_url(URL).controller.rate == 10.0
        await asyncio.gather(*(request(w) for w in workers for _ in range(8)))
    finally:
        for registry in workers:
            await registry.close()
    # 16 requests at 10/s with a burst of 1: 15 intervals of 0.1 s (alone, each worker
    # would send its 8 in 0.7 s).
    assert max(starts) - min(starts) >= 1.3


async def test_a_pace_wait_beyond_max_pause_refuses_the_request(limits: SharedHostLimits) -> None:
    learned = HostDecision(HOST, 2, 0.5, "429", T0, "w0")
    registry = _registry(limits, "w0", learned=learned, max_pause=0.5)
    other = _registry(limits, "w1", learned=learned, max_pause=0.5)
    try:
        gate = registry.for_url(URL)
        gate.release(await gate.acquire())
        # The other worker's next request is 2 s away on the shared pace.
        with pytest.raises(ThrottledError, match="shared limit"):
            await other.for_url(URL).acquire()
        assert other.for_url(URL).in_flight == 0
    finally:
        await registry.close()
        await other.close()


async def test_decisions_are_stored_and_a_new_worker_starts_from_them(
    limits: SharedHostLimits, catalog: AsyncCatalog
) -> None:
    registry = _registry(limits, "w0", ceiling=16, windows=catalog)
    gate = registry.for_url(URL)
    assert gate.controller.window == 8
    started = await gate.acquire()
    gate.release(started, ThrottledError("429", status=429))
    await registry.close()
    stored = await catalog.host_windows()
    decision = stored[HOST]
    assert (decision.window, decision.reason, decision.decided_by) == (4, "429", "w0")
    assert decision.rate is not None and decision.rate > 0
    later = _registry(limits, "w1", ceiling=16, learned=decision)
    try:
        controller = later.for_url(URL).controller
        assert (controller.window, controller.rate) == (4, decision.rate)
    finally:
        await later.close()


async def test_without_redis_the_local_gate_goes_on_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = connect("redis://127.0.0.1:1/0")  # nothing listens there
    registry = _registry(RedisHostLimits(client), "w0")
    try:
        gate = registry.for_url(URL)
        with caplog.at_level(logging.WARNING, logger="skyhaul.engine"):
            for _ in range(3):
                gate.release(await gate.acquire())
        assert gate.in_flight == 0
    finally:
        await registry.close()
        await client.aclose()
    warnings = [r for r in caplog.records if "127.0.0.1:1" in r.getMessage()]
    assert len(warnings) == 1, caplog.records


async def test_a_worker_follows_another_workers_newer_decision(
    limits: SharedHostLimits, catalog: AsyncCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_gate, "REFRESH_SECONDS", 0.02)
    stamps = iter(T0 + timedelta(seconds=i) for i in itertools.count())
    workers = [
        _registry(limits, f"w{i}", ceiling=16, windows=catalog, now=lambda: next(stamps))
        for i in range(2)
    ]
    try:
        gates = [w.for_url(URL) for w in workers]
        started = await gates[0].acquire()
        gates[0].release(started, ThrottledError("429", status=429))
        decided = (gates[0].controller.window, gates[0].controller.rate)
        assert decided[0] == 4 and decided[1] is not None
        deadline = asyncio.get_running_loop().time() + 5
        while (gates[1].controller.window, gates[1].controller.rate) != decided:
            assert asyncio.get_running_loop().time() < deadline, "decision not followed"
            await asyncio.sleep(0.01)
    finally:
        for registry in workers:
            await registry.close()
