"""``/api/records`` over a real loopback server: bodies, errors, rate limit, auth, counters."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime

import aiohttp
import pytest
from multidict import CIMultiDict

from skyhaul.sim import FaultConfig, RunningSim, SimConfig, SimThread
from skyhaul.sim.records import RecordsQuery, records_json
from skyhaul.sim.records_config import RecordsConfig

FIVE_MINUTES = "2024-01-01T00:00:00.000000Z..2024-01-01T00:05:00.000000Z"


async def _get(
    session: aiohttp.ClientSession,
    sim: RunningSim,
    query: dict[str, str],
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, CIMultiDict[str]]:
    url = sim.base_url + "api/records"
    async with session.get(url, params=query, headers=headers) as response:
        return response.status, await response.read(), CIMultiDict(response.headers)


async def test_a_window_of_all_sensors(running: RunningSim, session: aiohttp.ClientSession) -> None:
    query = {"sensor": "ALL", "descriptor": "QUICKLOOK", "obTime": FIVE_MINUTES}
    status, body, headers = await _get(session, running, query)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert int(headers["Content-Length"]) == len(body)
    records = json.loads(body)
    assert len(records) == 3840
    assert records[0] == {
        "obTime": "2024-01-01T00:00:00.000000Z",
        "idSensor": "REACH-150",
        "dosimeter": 1,
        "descriptor": "QUICKLOOK",
        "dose1": records[0]["dose1"],
        "dose2": records[0]["dose2"],
        "lat": records[0]["lat"],
        "lon": records[0]["lon"],
        "alt": records[0]["alt"],
    }
    assert all(isinstance(records[0][k], float) for k in ("dose1", "dose2", "lat", "lon", "alt"))
    assert (await _get(session, running, query))[1] == body  # byte-identical
    one = json.loads((await _get(session, running, {**query, "sensor": "REACH-171"}))[1])
    assert one == [r for r in records if r["idSensor"] == "REACH-171"]
    snapshot = running.stats.snapshot()
    assert snapshot.records_requests == 3 and snapshot.records_served == 3840 * 2 + 120
    assert snapshot.bytes_by_path["/api/records"] > 2 * len(body)


async def test_an_empty_window_is_an_empty_array(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    window = "2024-01-01T00:00:01Z..2024-01-01T00:00:04Z"
    assert (await _get(session, running, {"obTime": window}))[:2] == (200, b"[]")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "obTime: required"),
        ({"obTime": "2024-01-01"}, "START..END"),
        ({"obTime": "2024-01-01T00:00:00Z..soon"}, "not an ISO 8601 time"),
        ({"obTime": "2024-01-01T00:05:00Z..2024-01-01T00:00:00Z"}, "end is before the start"),
        ({"obTime": "2024-01-01T00:00:00Z..2024-01-03T00:00:00Z"}, "longer than one day"),
        ({"obTime": FIVE_MINUTES, "sensor": "REACH-999"}, "unknown sensor"),
        ({"obTime": FIVE_MINUTES, "descriptor": "FULL"}, "QUICKLOOK"),
    ],
)
async def test_bad_queries_are_400(
    running: RunningSim, session: aiohttp.ClientSession, query: dict[str, str], message: str
) -> None:
    status, body, _ = await _get(session, running, query)
    assert status == 400
    assert message in json.loads(body)["error"]


async def test_a_burst_beyond_the_bucket_is_429_with_integer_retry_after(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    running.set_faults(records_rate=0.5, records_burst=2)  # 3 tokens, one more every 2 s
    query = {"obTime": "2024-01-01T00:00:00Z..2024-01-01T00:00:10Z", "sensor": "REACH-150"}
    answers = await asyncio.gather(*(_get(session, running, query) for _ in range(10)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200] * 3 + [429] * 7
    for status, body, headers in answers:
        if status == 429:
            assert headers["Retry-After"] in {"1", "2"}  # whole seconds to the next token
            assert json.loads(body) == {"error": "rate-limited"}
    snapshot = running.stats.snapshot()
    assert (snapshot.records_requests, snapshot.records_throttled) == (10, 7)
    assert snapshot.records_served == 3 * 4 and snapshot.rate_limited == 7
    # the limit is the records API's own: files and other API routes are not limited
    async with session.get(running.files[0].url) as response:
        assert response.status == 200
    async with session.get(running.base_url + "api/slots") as response:
        assert response.status == 200


async def test_the_files_rate_limit_spares_the_records_api(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    running.set_faults(rate_limit=0.001, burst=0)
    query = {"obTime": FIVE_MINUTES, "sensor": "REACH-150"}
    statuses = [(await _get(session, running, query))[0] for _ in range(5)]
    assert statuses == [200] * 5


async def test_a_token_is_required_when_set(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    running.set_faults(records_token="s3cret")
    query = {"obTime": FIVE_MINUTES, "sensor": "REACH-150"}
    status, _, headers = await _get(session, running, query)
    assert status == 401 and "Bearer" in headers["WWW-Authenticate"]
    assert (await _get(session, running, query, {"Authorization": "Bearer nope"}))[0] == 401
    assert (await _get(session, running, query, {"Authorization": "Bearer s3cret"}))[0] == 200
    basic = "Basic " + base64.b64encode(b"me:s3cret").decode()
    assert (await _get(session, running, query, {"Authorization": basic}))[0] == 200
    async with session.get(running.base_url + "_sim/faults") as response:
        assert "s3cret" not in await response.text()


async def test_malformed_and_no_data_days(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    running.set_faults(records_malformed_days=["2024-01-01"], records_no_data_days="2024-01-02")
    status, body, _ = await _get(session, running, {"obTime": FIVE_MINUTES})
    assert status == 200 and body.startswith(b"[")
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    next_day = "2024-01-02T00:00:00Z..2024-01-02T00:05:00Z"
    assert (await _get(session, running, {"obTime": next_day}))[:2] == (200, b"[]")
    assert running.stats.snapshot().records_served == 0


async def test_a_big_window_streams_the_same_records(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    running.set_faults(sensors=4, cadence="1s")
    window = "2024-01-01T00:00:00Z..2024-01-01T01:00:00Z"  # 28,800 records: streamed
    status, body, headers = await _get(session, running, {"obTime": window})
    assert status == 200 and headers.get("Transfer-Encoding") == "chunked"
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 1, tzinfo=UTC)
    expected, count = records_json(RecordsConfig(sensors=4, cadence=1.0), RecordsQuery(start, end))
    assert body.decode() == expected and count == 28_800
    snapshot = running.stats.snapshot()
    assert snapshot.records_served == count and snapshot.bytes_by_path["/api/records"] == len(body)


async def test_api_faults_apply_when_asked(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    running.set_faults(p503=1.0)
    assert (await _get(session, running, {"obTime": FIVE_MINUTES}))[0] == 200
    running.set_faults(faults_on_api=True)
    assert (await _get(session, running, {"obTime": FIVE_MINUTES}))[0] == 503


async def test_knobs_and_counters_over_the_control_plane(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    knobs = {"records-rate": "0.1r/s", "records_burst": 0, "records-gap": "50%", "sensors": 2}
    async with session.post(running.base_url + "_sim/faults", json=knobs) as response:
        shown = await response.json()
    assert response.status == 200
    assert (shown["records_rate"], shown["records_burst"], shown["sensors"]) == (0.1, 0, 2)
    assert running.faults.records == RecordsConfig(rate=0.1, burst=0, gap=0.5, sensors=2)
    async with session.post(running.base_url + "_sim/faults", json={"cadence": 0}) as response:
        assert response.status == 400 and "cadence" in (await response.json())["error"]
    statuses = [(await _get(session, running, {"obTime": FIVE_MINUTES}))[0] for _ in range(2)]
    assert statuses == [200, 429]
    async with session.get(running.base_url + "_sim/stats") as response:
        stats = await response.json()
    assert (stats["records_requests"], stats["records_throttled"]) == (2, 1)
    assert 0 < stats["records_served"] < 2 * 2 * 60
    async with session.post(running.base_url + "_sim/reset-stats") as response:
        reset = await response.json()
    assert reset["records_requests"] == reset["records_throttled"] == reset["records_served"] == 0


def test_a_records_rate_limit_from_a_thread(small_config: SimConfig) -> None:
    config = SimConfig(
        archive=small_config.archive,
        root=small_config.root,
        faults=FaultConfig(records=RecordsConfig(rate=20, burst=0)),
    )
    with SimThread(config) as sim:
        url = sim.base_url + "api/records?sensor=REACH-171&obTime=" + FIVE_MINUTES
        with urllib.request.urlopen(url, timeout=10) as response:
            assert len(json.loads(response.read())) == 120
        sim.set_faults(records_rate=0.001, records_burst=0)
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(url, timeout=10)
        with caught.value as refused:
            assert refused.code == 429 and refused.headers["Retry-After"] == "1000"
        assert sim.stats.snapshot().records_throttled == 1
