"""Each fault knob, observed by a real client over loopback."""

from __future__ import annotations

import asyncio
import hashlib
import io
import warnings

import aiohttp
import pytest
from astropy.io import fits
from multidict import CIMultiDict

from skyhaul.sim import FaultConfig, RunningSim


async def _get(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes, CIMultiDict[str]]:
    async with session.get(url, headers=headers) as response:
        return response.status, await response.read(), CIMultiDict(response.headers)


async def test_latency(running: RunningSim, session: aiohttp.ClientSession) -> None:
    running.set_faults(latency=0.15)
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, _, _ = await _get(session, running.files[0].url)
    assert status == 200
    assert loop.time() - started >= 0.15


async def test_bandwidth_paces_the_body(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    entry = max(running.files, key=lambda e: e.size)
    bandwidth = entry.size * 4  # about a quarter of a second
    running.set_faults(bandwidth=bandwidth)
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, body, _ = await _get(session, entry.url)
    elapsed = loop.time() - started
    assert status == 200 and hashlib.sha256(body).hexdigest() == entry.sha256
    assert 0.25 * 0.9 <= elapsed < 2.0


async def test_rate_limit_is_a_token_bucket(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    rate, burst = 40.0, 5
    running.set_faults(rate_limit=rate, burst=burst, retry_after=1)
    url = running.files[0].url
    loop = asyncio.get_running_loop()
    statuses: list[int] = []
    started = loop.time()
    while loop.time() - started < 0.5:
        async with session.head(url) as response:
            statuses.append(response.status)
            if response.status == 429:
                assert response.headers["Retry-After"] == "1"
    elapsed = loop.time() - started
    admitted = statuses.count(200)
    assert set(statuses) == {200, 429}
    assert statuses[: burst + 1] == [200] * (burst + 1)
    assert burst + 1 + rate * elapsed - 3 <= admitted <= burst + 1 + rate * elapsed + 1
    assert running.stats.snapshot().rate_limited == statuses.count(429)


async def test_rate_limit_without_retry_after(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    running.set_faults(rate_limit=0.001)
    async with session.head(running.files[0].url) as response:
        assert response.status == 200
    async with session.head(running.files[0].url) as response:
        assert response.status == 429
        assert "Retry-After" not in response.headers


async def test_random_503(running: RunningSim, session: aiohttp.ClientSession) -> None:
    url = running.files[0].url

    async def statuses() -> list[int]:
        running.set_faults(FaultConfig(seed=11, p503=0.3, retry_after_503=2))
        found = []
        for _ in range(120):
            async with session.head(url) as response:
                found.append(response.status)
                if response.status == 503:
                    assert response.headers["Retry-After"] == "2"
        return found

    first = await statuses()
    assert 15 <= first.count(503) <= 60
    assert set(first) == {200, 503}
    assert await statuses() == first  # seeded: the same sequence again


async def test_drop_after_truncates_the_body(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    entry = running.files[0]
    running.set_faults(drop_after=1000)
    with pytest.raises(aiohttp.ClientPayloadError):
        await _get(session, entry.url)
    # each resumed range gets another 1000 bytes, then the connection drops again
    async with session.get(entry.url, headers={"Range": "bytes=1000-"}) as response:
        assert response.status == 206
        received = b""
        with pytest.raises(aiohttp.ClientPayloadError):
            async for chunk in response.content.iter_any():
                received += chunk
    assert len(received) == 1000
    snapshot = running.stats.snapshot()
    assert snapshot.dropped == 2
    assert snapshot.bytes_by_path[entry.path] == 2000


async def test_drop_probability(running: RunningSim, session: aiohttp.ClientSession) -> None:
    running.set_faults(drop_after=10, p_drop=0.5)
    outcomes = []
    for _ in range(30):
        try:
            await _get(session, running.files[0].url)
            outcomes.append("ok")
        except aiohttp.ClientPayloadError:
            outcomes.append("dropped")
    assert 5 <= outcomes.count("dropped") <= 25


async def test_corruption_keeps_the_length(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    entry = running.files[0]
    running.set_faults(corrupt=1.0)
    status, body, headers = await _get(session, entry.url)
    assert status == 200
    assert len(body) == entry.size == int(headers["Content-Length"])
    assert hashlib.sha256(body).hexdigest() != entry.sha256
    assert running.stats.snapshot().corrupted == 1


async def test_ignore_range(running: RunningSim, session: aiohttp.ClientSession) -> None:
    entry = running.files[0]
    running.set_faults(ignore_range=True)
    status, body, headers = await _get(session, entry.url, {"Range": "bytes=100-"})
    assert status == 200 and "Content-Range" not in headers
    assert hashlib.sha256(body).hexdigest() == entry.sha256


async def test_change_every(running: RunningSim, session: aiohttp.ClientSession) -> None:
    entry = running.files[2]
    running.set_faults(change_every=2)
    etags = []
    bodies = []
    for _ in range(3):
        _, body, headers = await _get(session, entry.url)
        etags.append(headers["ETag"])
        bodies.append(body)
    assert etags[0] == etags[1] == entry.version.etag
    assert etags[2] != etags[1]
    assert len(bodies[2]) != len(bodies[0])  # generation 1 is one FITS row longer
    listed = next(e for e in running.files if e.path == entry.path)
    assert listed.sha256 == hashlib.sha256(bodies[2]).hexdigest()
    assert listed.version.generation == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fits.open(io.BytesIO(bodies[2]), checksum=True) as hdus:
            assert hdus[0].header["GENERATN"] == 1


async def test_if_range_after_a_change_gets_the_whole_new_file(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    entry = running.files[4]
    changed = await running.change_file(entry.path)
    headers = {"Range": "bytes=100-", "If-Range": entry.version.etag}
    status, body, _ = await _get(session, entry.url, headers)
    assert status == 200
    assert hashlib.sha256(body).hexdigest() == changed.sha256


async def test_p_change(running: RunningSim, session: aiohttp.ClientSession) -> None:
    running.set_faults(p_change=1.0)
    entry = running.files[6]
    _, _, headers = await _get(session, entry.url)
    assert headers["ETag"] != entry.version.etag
    assert running.stats.snapshot().changed == 1


async def test_fail_paths(running: RunningSim, session: aiohttp.ClientSession) -> None:
    gone, hidden, fine = running.files[:3]
    running.set_faults(fail_paths={gone.path: 404, hidden.path: 403})
    assert (await _get(session, gone.url))[0] == 404
    assert (await _get(session, hidden.url))[0] == 403
    assert (await _get(session, fine.url))[0] == 200


async def test_no_digest(running: RunningSim, session: aiohttp.ClientSession) -> None:
    running.set_faults(no_digest=True)
    _, _, headers = await _get(session, running.files[0].url)
    assert "Repr-Digest" not in headers


async def test_api_is_spared_unless_asked(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    running.set_faults(p503=1.0)
    assert (await _get(session, running.base_url + "api/files"))[0] == 200
    assert (await _get(session, running.files[0].url))[0] == 503
    running.set_faults(faults_on_api=True)
    assert (await _get(session, running.base_url + "api/files"))[0] == 503
    assert (await _get(session, running.base_url + "api/slots"))[0] == 503


async def test_faults_over_http(running: RunningSim, session: aiohttp.ClientSession) -> None:
    url = running.base_url + "_sim/faults"
    async with session.post(url, json={"p503": "100%", "fail-paths": ["a=404"]}) as response:
        assert response.status == 200
        assert (await response.json())["p503"] == 1.0
    assert running.faults.p503 == 1.0 and running.faults.fail_paths == {"a": 404}
    assert (await _get(session, running.files[0].url))[0] == 503
    async with session.post(url, json={"latency": 0.5, "reset": True}) as response:
        assert (await response.json())["p503"] == 0
    assert running.faults == FaultConfig(latency=0.5)
    async with session.post(url, json={"p503": 7}) as response:
        assert response.status == 400
        assert "p503" in (await response.json())["error"]
    async with session.post(url, data=b"{nope") as response:
        assert response.status == 400
    async with session.get(url) as response:
        assert (await response.json())["latency"] == 0.5
