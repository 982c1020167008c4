"""The simulator over real HTTP on loopback, with no faults."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import warnings
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import aiohttp
import pytest
from astropy.io import fits

from skyhaul.sim import MANIFEST_COLUMNS, ArchiveSpec, RunningSim, SimConfig, start_server


async def test_get_whole_file(running: RunningSim, session: aiohttp.ClientSession) -> None:
    entry = running.files[0]
    async with session.get(entry.url) as response:
        body = await response.read()
        headers = response.headers
    assert response.status == 200
    assert len(body) == entry.size == int(headers["Content-Length"])
    assert hashlib.sha256(body).hexdigest() == entry.sha256
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["ETag"] == entry.version.etag and headers["ETag"].startswith('"')
    assert headers["Last-Modified"] == format_datetime(entry.version.last_modified, usegmt=True)
    digest = base64.b64encode(bytes.fromhex(entry.sha256)).decode()
    assert headers["Repr-Digest"] == f"sha-256=:{digest}:"
    assert headers["Content-Type"] == "application/fits"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fits.open(io.BytesIO(body), checksum=True) as hdus:
            assert hdus[0].verify_checksum() == 1


async def test_head(running: RunningSim, session: aiohttp.ClientSession) -> None:
    entry = running.files[1]
    async with session.head(entry.url) as response:
        assert response.status == 200
        assert int(response.headers["Content-Length"]) == entry.size
        assert response.headers["ETag"] == entry.version.etag
        assert await response.read() == b""


async def test_ranges(running: RunningSim, session: aiohttp.ClientSession) -> None:
    entry = running.files[0]
    async with session.get(entry.url) as response:
        whole = await response.read()
    size = entry.size
    cases = {
        "bytes=0-99": (0, 100),
        "bytes=100-": (100, size),
        "bytes=-500": (size - 500, size),
        f"bytes={size - 10}-{size + 1000}": (size - 10, size),
    }
    for value, (start, stop) in cases.items():
        async with session.get(entry.url, headers={"Range": value}) as response:
            assert response.status == 206, value
            assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{size}"
            assert await response.read() == whole[start:stop]
            assert "Repr-Digest" in response.headers  # of the whole representation


async def test_unsatisfiable_range(running: RunningSim, session: aiohttp.ClientSession) -> None:
    entry = running.files[0]
    async with session.get(entry.url, headers={"Range": f"bytes={entry.size}-"}) as response:
        assert response.status == 416
        assert response.headers["Content-Range"] == f"bytes */{entry.size}"


async def test_malformed_range_gets_the_whole_body(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    entry = running.files[0]
    async with session.get(entry.url, headers={"Range": "bytes=0-1,4-5"}) as response:
        assert response.status == 200
        assert len(await response.read()) == entry.size


async def test_if_range(running: RunningSim, session: aiohttp.ClientSession) -> None:
    entry = running.files[0]
    etag = entry.version.etag
    date = format_datetime(entry.version.last_modified, usegmt=True)
    for validator, status in [(etag, 206), (date, 206), ('"stale"', 200), ("W/" + etag, 200)]:
        headers = {"Range": "bytes=10-", "If-Range": validator}
        async with session.get(entry.url, headers=headers) as response:
            body = await response.read()
        assert response.status == status, validator
        assert len(body) == (entry.size - 10 if status == 206 else entry.size)


async def test_unknown_file_is_404(running: RunningSim, session: aiohttp.ClientSession) -> None:
    async with session.get(running.base_url + "files/raw/NOPE/x.fits") as response:
        assert response.status == 404
        assert "no such file" in (await response.json())["error"]


async def test_listing(running: RunningSim, session: aiohttp.ClientSession) -> None:
    async with session.get(running.base_url + "api/files") as response:
        listing = await response.json()
    assert len(listing) == len(running.archive.files) == 24
    first = listing[0]
    assert set(first) >= {
        "url", "path", "size", "sha256", "checksum", "instrument",
        "obs_start", "obs_end", "downlink_time", "slot",
    }  # fmt: skip
    assert first["url"] == running.url_for(first["path"])
    assert first["checksum"] == "sha256:" + first["sha256"]
    assert first["obs_start"].endswith("Z") and first["downlink_time"].endswith("Z")
    assert [e.to_json() for e in running.files] == listing


async def test_listing_filters(running: RunningSim, session: aiohttp.ClientSession) -> None:
    api = running.base_url + "api/files"
    files = running.archive.files
    async with session.get(api, params={"instrument": "eui"}) as response:
        eui = await response.json()
    assert eui and {e["instrument"] for e in eui} == {"EUI"}
    assert len(eui) == sum(f.instrument == "EUI" for f in files)

    target = files[5]
    window = {
        "by": "downlink",
        "start": target.downlink_time.isoformat(),
        "end": (target.downlink_time + timedelta(seconds=1)).isoformat().replace("+00:00", "Z"),
    }
    async with session.get(api, params=window) as response:
        paths = {e["path"] for e in await response.json()}
    assert target.path in paths
    assert all(
        f.downlink_time.date() == target.downlink_time.date() for f in files if f.path in paths
    )

    async with session.get(api, params={"slot": target.slot}) as response:
        assert {e["slot"] for e in await response.json()} == {target.slot}

    async with session.get(api, params={"start": "not-a-time"}) as response:
        assert response.status == 400
        assert "start" in (await response.json())["error"]


async def test_manifests(running: RunningSim, session: aiohttp.ClientSession) -> None:
    async with session.get(running.base_url + "api/manifest.csv") as response:
        assert response.content_type == "text/csv"
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    async with session.get(running.base_url + "api/manifest.json") as response:
        entries = await response.json()
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    assert len(rows) == len(entries) == 24
    assert [{k: str(v) for k, v in e.items()} for e in entries] == rows
    assert tuple(entries[0]) == MANIFEST_COLUMNS


async def test_slots(running: RunningSim, session: aiohttp.ClientSession) -> None:
    async with session.get(running.base_url + "api/slots") as response:
        slots = await response.json()
    assert len(slots) == len(running.slots)
    assert set(slots[0]) == {"slot", "station", "start", "end"}
    used = {f.slot for f in running.archive.files}
    assert used <= {s["slot"] for s in slots}
    day = {"start": "2024-03-02T00:00:00Z", "end": "2024-03-03T00:00:00Z"}
    async with session.get(running.base_url + "api/slots", params=day) as response:
        assert 3 <= len(await response.json()) <= 4


async def test_stats(running: RunningSim, session: aiohttp.ClientSession) -> None:
    entry = running.files[0]
    async with session.get(entry.url) as response:
        await response.read()
    async with session.get(entry.url, headers={"Range": "bytes=0-9"}) as response:
        await response.read()
    async with session.head(entry.url) as response:
        pass
    async with session.get(running.base_url + "api/slots") as response:
        slots_length = len(await response.read())
    async with session.get(running.base_url + "_sim/stats") as response:
        stats = await response.json()
    assert stats["requests"] == 4  # the control plane is not counted
    assert stats["by_method"] == {"GET": 3, "HEAD": 1}
    assert stats["by_status"] == {"200": 3, "206": 1}
    assert stats["ranged"] == 1
    assert stats["bytes_by_path"] == {entry.path: entry.size + 10, "/api/slots": slots_length}
    assert stats["bytes_sent"] == entry.size + 10 + slots_length
    assert running.stats.snapshot().to_json() == stats

    async with session.post(running.base_url + "_sim/reset-stats") as response:
        assert (await response.json())["requests"] == 0
    assert running.stats.requests == 0


async def test_change_endpoint(running: RunningSim, session: aiohttp.ClientSession) -> None:
    entry = running.files[3]
    url = running.base_url + "_sim/change"
    async with session.post(url, json={"path": entry.path}) as response:
        changed = await response.json()
    assert changed["generation"] == 1 and changed["sha256"] != entry.sha256
    async with session.get(entry.url) as response:
        body = await response.read()
        assert response.headers["ETag"] == changed["etag"]
    assert hashlib.sha256(body).hexdigest() == changed["sha256"]
    async with session.post(url, json={"path": "raw/none"}) as response:
        assert response.status == 404
    async with session.post(url, data=b"[1]") as response:
        assert response.status == 400


async def test_same_seed_same_bytes_across_servers(small_config: SimConfig, tmp_path: Path) -> None:
    other_root = SimConfig(archive=small_config.archive, root=tmp_path)
    async with await start_server(small_config) as one, await start_server(other_root) as two:
        assert [f.sha256 for f in one.files] == [f.sha256 for f in two.files]
        assert one.base_url != two.base_url


async def test_big_file_through_sendfile(sim_root: Path, session: aiohttp.ClientSession) -> None:
    config = SimConfig(archive=ArchiveSpec.exact(1, 24 * 2**20), root=sim_root)
    async with await start_server(config) as sim:
        entry = sim.files[0]
        digest = hashlib.sha256()
        async with session.get(entry.url) as response:
            async for chunk in response.content.iter_chunked(1 << 20):
                digest.update(chunk)
        assert digest.hexdigest() == entry.sha256
        assert sim.stats.bytes_sent == entry.size


async def test_change_file_of_an_unknown_path(running: RunningSim) -> None:
    with pytest.raises(KeyError):
        await running.change_file("raw/none.fits")
