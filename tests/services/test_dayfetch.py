"""One day of a records API against hostile answers on loopback: a throttle that asks
for years, an endless answer. The day fails at once, with a message that says why."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from tests.adapters.http.loopback import endless_json, serve

from skyhaul.adapters.records_store import ChunkSpool
from skyhaul.adapters.sources.records_api import RecordsApiSettings, RecordsClient
from skyhaul.errors import ClientError, ThrottledError
from skyhaul.services.dayfetch import DayFetch, fetch_day
from skyhaul.services.hostgate import GateRegistry

DAY = datetime(2024, 1, 1, tzinfo=UTC)
#: A test fails rather than hang: without the bounds, these days wait for years.
DEADLINE = 20.0


async def _throttle(request: web.Request) -> web.Response:
    return web.Response(status=429, headers={"Retry-After": request.query["after"]})


@pytest.fixture
async def api() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/throttle", _throttle)
    app.router.add_get("/endless", endless_json)
    runner, url = await serve(app)
    yield url
    await runner.cleanup()


def settings(url: str, **changes: object) -> RecordsApiSettings:
    base = RecordsApiSettings(
        name="reach",
        url=url,
        query="&from={start}&to={end}",
        params={},
        chunk=timedelta(hours=1),
        expected_per_day=None,
        concurrency=4,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def fetch(read: RecordsApiSettings, tmp_path: Path) -> DayFetch:
    client = RecordsClient(read)
    gate = GateRegistry(read.concurrency, asyncio.get_running_loop().time, read.max_wait)
    windows = [(DAY + timedelta(hours=h), DAY + timedelta(hours=h + 1)) for h in range(4)]
    try:
        return await asyncio.wait_for(
            fetch_day(
                client, gate.for_url(read.url), read, windows, ChunkSpool(tmp_path / "spool")
            ),
            DEADLINE,
        )
    finally:
        await client.aclose()


@pytest.mark.parametrize("after", ["99999999", "1000000000000"])
async def test_a_throttle_asking_longer_than_max_wait_fails_the_day_at_once(
    api: str, tmp_path: Path, after: str
) -> None:
    # Retry-After: 99999999 once hung backfill (three years of pauses).
    with pytest.raises(ThrottledError, match=r"longer than the 10m00s a run waits"):
        await fetch(settings(f"{api}/throttle?after={after}"), tmp_path)


async def test_max_wait_is_the_records_sources_setting(api: str, tmp_path: Path) -> None:
    read = settings(f"{api}/throttle?after=2", max_wait=1.0)
    with pytest.raises(ThrottledError, match=r"asked to wait 2.0s, longer than the 1.0s"):
        await fetch(read, tmp_path)


async def test_an_endless_answer_fails_the_day_at_the_cap(api: str, tmp_path: Path) -> None:
    read = settings(f"{api}/endless?", max_answer_size=64 * 1024)
    with pytest.raises(ClientError, match=r"larger than 64.0 KiB"):
        await fetch(read, tmp_path)
