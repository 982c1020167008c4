"""MAST's control plane (``/_sim/mast...``) and its Python handles (RunningSim, SimThread)."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path

import aiohttp

from skyhaul.sim import RunningSim, SimConfig, SimThread, profile
from skyhaul.sim.mast.knobs import MastKnobs


async def test_summary_says_where_mast_is(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    async with session.get(running.base_url + "_sim/mast") as response:
        summary = await response.json()
    assert summary["server"] == running.mast.server_url == running.base_url.rstrip("/")
    assert (summary["observations"], summary["products"]) == (12, 97)
    assert summary["bytes"] == running.mast.dataset.total_size
    assert summary["profile"] == "default" and summary["knobs"] == MastKnobs().to_json()
    assert "/api/v0/invoke" in summary["endpoints"]
    assert running.stats.snapshot().requests == 0  # the control plane is not counted


async def test_products_with_their_digests(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    url = running.base_url + "_sim/mast/products"
    async with session.get(url, params={"obs_id": "24139001"}) as response:
        listed = await response.json()
    expected = running.mast.products_of("IEPW01010")
    assert [p["dataURI"] for p in listed] == [p.data_uri for p in expected]
    corrupt = next(p for p in listed if p["corrupt_http"])
    assert corrupt["sha256"] != corrupt["http_sha256"]
    files = {f.product.data_uri: f for f in await running.mast.files(expected)}
    for entry in listed:
        disk = files[entry["dataURI"]].disk_path.read_bytes()
        assert hashlib.sha256(disk).hexdigest() == entry["sha256"]
        assert entry["obs_id"] == "IEPW01010" and entry["obsid"] == "24139001"
    assert {p["has_content_length"] for p in listed} == {True, False}
    async with session.get(url, params={"obs_id": "nope"}) as response:
        assert response.status == 404


async def test_knobs_merge_reset_and_refuse(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    url = running.base_url + "_sim/mast/knobs"
    async with session.post(url, json={"executing_polls": 3, "etag": False}) as response:
        assert (await response.json())["executing_polls"] == 3
    async with session.post(url, json={"error_services": ["*"]}) as response:
        merged = await response.json()
    assert merged["executing_polls"] == 3 and merged["etag"] is False
    assert running.mast.knobs.error_services == {"*"}
    async with session.post(url, json={"reset": True, "ranges": False}) as response:
        assert await response.json() == {**MastKnobs().to_json(), "ranges": False}
    for bad in ({"executing_polls": "many"}, {"nope": 1}, [1]):
        async with session.post(url, json=bad) as response:
            assert response.status == 400 and "error" in await response.json()
    async with session.post(url, data="{") as response:
        assert response.status == 400
    async with session.get(url) as response:
        assert (await response.json())["ranges"] is False


async def test_stats_and_their_reset(running: RunningSim, session: aiohttp.ClientSession) -> None:
    async with session.get(running.base_url + "Santa-war/query?name=M1") as response:
        assert response.status == 200
    async with session.get(running.base_url + "_sim/mast/stats") as response:
        stats = await response.json()
    assert stats["requests"]["resolver"] == 1 and stats["requests"]["invoke"] == 0
    async with session.post(running.base_url + "_sim/mast/reset-stats") as response:
        assert (await response.json())["requests"]["resolver"] == 0
    assert running.mast.stats.snapshot().requests == {}


def test_sim_thread_handles(sim_root: Path) -> None:
    with SimThread(SimConfig(archive=profile("small"), root=sim_root)) as sim:
        assert sim.mast.observation("IDXY04040").obsid == 24139004
        knobs = sim.set_mast_knobs(executing_polls=1)
        assert knobs == sim.mast.knobs == MastKnobs(executing_polls=1)
        products = sim.mast.products_of("IDXY04040")
        files = sim.mast_files(products)
        assert [f.product for f in files] == list(products)
        request = urllib.request.Request(sim.mast.download_url(products[0].data_uri))
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert hashlib.sha256(answer.read()).hexdigest() == files[0].http_sha256
        with urllib.request.urlopen(sim.base_url + "_sim/mast/stats", timeout=30) as answer:
            assert json.load(answer)["downloads"] == {products[0].data_uri: 1}
