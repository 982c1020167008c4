"""MAST's query endpoints over real HTTP: invoke, columnsconfig, SANTA, path lookup, bundle."""

from __future__ import annotations

import json
import shlex
from typing import Any
from urllib.parse import quote

import aiohttp

from skyhaul.sim import RunningSim

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _body(service: str, params: dict[str, Any], page: int = 1, pagesize: int = 50000) -> str:
    """The body astroquery posts: ``request=`` and the quoted JSON, page before cacheBreaker."""
    request = {
        "service": service,
        "params": params,
        "format": "json",
        "pagesize": pagesize,
        "page": page,
        "cacheBreaker": "0f1e",
    }
    return "request=" + quote(json.dumps(request))


async def _invoke(
    session: aiohttp.ClientSession, sim: RunningSim, body: str
) -> tuple[int, dict[str, Any]]:
    async with session.post(sim.mast.invoke_url, data=body, headers=FORM) as response:
        return response.status, await response.json()


async def test_invoke_by_post_and_by_get(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    params = {"ra": 274.7, "dec": -13.807, "radius": 0.1}
    status, posted = await _invoke(session, running, _body("Mast.Caom.Cone", params))
    assert status == 200 and posted["status"] == "COMPLETE"
    assert [row["obs_id"] for row in posted["data"]] == [
        "jw02739-o001_t001_nircam_clear-f090w",
        "JDBA02020",
    ]
    query = {"request": json.dumps({"service": "Mast.Caom.Cone", "params": params})}
    async with session.get(running.mast.invoke_url, params=query) as response:
        assert (await response.json())["data"] == posted["data"]
    counted = running.mast.stats.snapshot()
    assert counted.requests["invoke"] == 2 and counted.services == {"Mast.Caom.Cone": 2}


async def test_pages_as_astroquery_walks_them(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    body = _body("Mast.Caom.Filtered", {"columns": "*", "filters": []}, pagesize=5)
    seen: list[str] = []
    page, pages = 0, 1
    while page < pages:  # astroquery's loop: it edits "page": N, in the encoded body
        status, answer = await _invoke(session, running, body)
        assert status == 200
        pages, page = answer["paging"]["pagesFiltered"], answer["paging"]["page"]
        seen += [row["obs_id"] for row in answer["data"]]
        body = body.replace(f"page%22%3A%20{page}%2C", f"page%22%3A%20{page + 1}%2C")
    assert (page, pages) == (3, 3)
    assert seen == [o.obs_id for o in running.mast.observations]


async def test_executing_polls_then_complete(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    async with session.post(
        running.base_url + "_sim/mast/knobs", json={"executing_polls": 2}
    ) as response:
        assert (await response.json())["executing_polls"] == 2
    body = _body("Mast.Caom.Products", {"obsid": "24139001"})
    statuses = [(await _invoke(session, running, body))[1]["status"] for _ in range(3)]
    assert statuses == ["EXECUTING", "EXECUTING", "COMPLETE"]
    assert running.mast.stats.snapshot().answers == {"EXECUTING": 2, "COMPLETE": 1}


async def test_error_knobs_answer_status_error(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    running.mast.set_knobs(error_services=["Mast.Caom.Products"], error_next=1)
    cone = _body("Mast.Caom.Cone", {"ra": 0, "dec": 0, "radius": 1})
    status, first = await _invoke(session, running, cone)
    assert status == 200 and first["status"] == "ERROR" and "skyhaul-sim" in first["msg"]
    assert (await _invoke(session, running, cone))[1]["status"] == "COMPLETE"
    products = _body("Mast.Caom.Products", {"obsid": "24139001"})
    assert (await _invoke(session, running, products))[1]["status"] == "ERROR"


async def test_bad_requests_are_answered_not_crashed(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    status, answer = await _invoke(session, running, "request=%7Bnot%20json")
    assert status == 400 and answer["status"] == "ERROR" and "not JSON" in answer["msg"]
    status, answer = await _invoke(session, running, "other=1")
    assert status == 400 and "no request" in answer["msg"]
    status, answer = await _invoke(session, running, _body("Mast.Nope", {}))
    assert status == 200 and answer == {
        "status": "ERROR",
        "msg": "Unknown service: Mast.Nope",
        "data": [],
        "fields": [],
    }
    garbage = {"Content-Type": "multipart/form-data; boundary=xyz"}
    async with session.post(running.mast.invoke_url, data=b"junk", headers=garbage) as response:
        assert response.status == 400 and "cannot read the form" in (await response.json())["error"]
    config = running.base_url + "portal/Mashup/Mashup.asmx/columnsconfig"
    async with session.post(config, data=b"\xff\xfe", headers=FORM) as response:
        assert response.status == 400
    bad_filter = _body("Mast.Caom.Filtered", {"filters": [{"paramName": "nope", "values": []}]})
    status, answer = await _invoke(session, running, bad_filter)
    assert status == 200 and answer["msg"] == "unknown column in filter: nope"
    assert running.mast.stats.snapshot().answers == {"invalid": 2, "ERROR": 2}


async def test_columns_config(running: RunningSim, session: aiohttp.ClientSession) -> None:
    url = running.base_url + "portal/Mashup/Mashup.asmx/columnsconfig"

    async def config(name: str) -> dict[str, Any]:
        async with session.post(url, data=f"colConfigId={name}", headers=FORM) as response:
            assert response.status == 200
            return dict(await response.json())

    cone = await config("Mast.Caom.Cone")
    assert cone["s_ra"]["vot.datatype"] == "double"  # a {min, max} filter for astroquery
    assert cone["calib_level"]["vot.datatype"] == "int"
    assert cone["obs_collection"]["separator"] == ";"
    assert cone["distance"]["vot.unit"] == "arcsec"
    assert cone["_selected_"]["type"] == "boolean"
    products = await config("Mast.Caom.Products")
    assert {"dataURI", "productFilename", "size", "obsID"} <= set(products)
    assert await config("Mast.Catalogs.Nope") == {}


async def test_santa_resolves_the_datasets_names(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    url = running.base_url + "Santa-war/query"
    query = [("name", "ngc 628"), ("name", "Vega"), ("outputFormat", "json")]
    async with session.get(url, params=query) as response:
        answer = await response.json()
    assert [(e["searchString"], e["ra"], e["decl"]) for e in answer["resolvedCoordinate"]] == [
        ("ngc 628", 24.173946, 15.783662)
    ]
    async with session.get(url, params={"name": "M16", "outputFormat": "xml"}) as response:
        assert response.status == 400
    assert running.mast.stats.snapshot().requests["resolver"] == 2


async def test_path_lookup_answers_in_batches_and_counts_them(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    cloud = next(p for p in running.mast.products if p.cloud_key)
    local = next(p for p in running.mast.products if p.cloud_key is None)
    uris = [cloud.data_uri, local.data_uri, "mast:HST/product/nope.fits"]
    url = running.base_url + "api/v0.1/path_lookup/"
    params = [("uri", u) for u in uris] + [("use_cloud_path", "True")]
    async with session.get(url, params=params) as response:
        answer = await response.json()
    assert answer == {
        cloud.data_uri: {"status_code": 200, "path": f"/{cloud.cloud_key}"},
        local.data_uri: {"status_code": 404, "path": None},
        "mast:HST/product/nope.fits": {"status_code": 404, "path": None},
    }
    form = "&".join(f"uri={quote(u)}" for u in uris[:2])
    async with session.post(url.rstrip("/"), data=form, headers=FORM) as response:
        assert set(await response.json()) == set(uris[:2])
    async with session.get(url) as response:
        assert response.status == 400
    counted = running.mast.stats.snapshot()
    assert counted.path_lookup_batches == (3, 2, 0) and counted.path_lookup_uris == 5
    assert counted.requests["path_lookup"] == 3


async def test_bundle_script_fetches_from_this_server(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    wanted = running.mast.products_of("JDBA02020")[:2]
    form = "&".join(f"uri={quote(p.data_uri)}" for p in wanted) + "&uri=mast%3AHST%2Fnope"
    async with session.post(
        running.base_url + "api/v0.1/Download/bundle.sh", data=form, headers=FORM
    ) as response:
        script = await response.text()
        assert response.content_type == "text/x-sh"
    lines = [line for line in script.splitlines() if line.startswith("curl ")]
    assert len(lines) == 2 and "# not found: mast:HST/nope" in script
    url = shlex.split(lines[0])[-1]
    assert url == running.mast.download_url(wanted[0].data_uri)
    assert shlex.split(lines[0])[-2].endswith(f"/HST/JDBA02020/{wanted[0].filename}")
    async with session.get(url) as response:
        assert response.status == 200 and len(await response.read()) == wanted[0].size


async def test_api_faults_apply_only_with_faults_on_api(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    body = _body("Mast.Caom.Cone", {"ra": 0, "dec": 0, "radius": 1})
    running.set_faults(p503=1.0)
    assert (await _invoke(session, running, body))[0] == 200
    running.set_faults(p503=1.0, faults_on_api=True)
    async with session.post(running.mast.invoke_url, data=body, headers=FORM) as response:
        assert response.status == 503
    assert running.mast.stats.snapshot().requests["invoke"] == 2
