"""``/api/mast`` in-process against the simulator's MAST side: searches by target, position
and obs_id with the CLI's rows, product lists, bad input as 400, MAST failing as 502, and
an import that runs to its end inside the server with its numbers matching the catalog."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
from tests.web.mast_fixtures import (
    MIRI,
    TESS,
    Web,
    mast_sim,
    module_mast_sim,
    wait_job,
    web,
    web_settings,
)

from skyhaul.core.jobs import JobKind, JobState
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import Selection
from skyhaul.sim.thread import SimThread

__all__ = ["mast_sim", "module_mast_sim", "web", "web_settings"]  # the fixtures

PRODUCT_KEYS = {
    "obs_id", "mission", "filename", "product_type", "description", "size", "data_uri",
    "in_cloud", "s3_url", "url",
}  # fmt: skip
PI_MEN = (84.291188, -80.469138)


def _one_line(answer_json: dict[str, str]) -> str:
    (message,) = answer_json.values()
    assert "\n" not in message and message.strip()
    return message


def _counts_match(sim: SimThread, row: dict[str, object]) -> None:
    products = sim.mast.products_of(str(row["obs_id"]))
    assert (row["products"], row["size"]) == (len(products), sum(p.size for p in products))


async def test_search_by_obs_id_gives_the_clis_rows(web: Web, mast_sim: SimThread) -> None:
    answer = await web.client.get("/api/mast/search", params={"obs_id": MIRI})
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["rows"]
    assert set(row) == {
        "obs_id", "obsid", "target", "mission", "instrument", "start", "end", "t_min",
        "t_max", "calib_level", "dataproduct_type", "ra", "dec", "products", "size",
    }  # fmt: skip
    assert (row["obs_id"], row["mission"], row["target"]) == (MIRI, "JWST", "TRAPPIST-1")
    _counts_match(mast_sim, row)


async def test_search_by_target_resolves_the_name(web: Web, mast_sim: SimThread) -> None:
    answer = await web.client.get("/api/mast/search", params={"target": "Crab Nebula"})
    assert answer.status_code == 200, answer.text
    assert [r["obs_id"] for r in answer.json()["rows"]] == ["IDXY04040"]


async def test_search_by_position_with_filters(web: Web, mast_sim: SimThread) -> None:
    params = {
        "ra": PI_MEN[0], "dec": PI_MEN[1], "radius": "12arcmin", "mission": "TESS",
        "product_type": "SCIENCE", "calib_level": "2,3",
    }  # fmt: skip
    answer = await web.client.get("/api/mast/search", params=params)
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    pi_men = [o.plan.obs_id for o in mast_sim.mast.observations if o.plan.target == "Pi Men"]
    assert sorted(r["obs_id"] for r in rows) == sorted(pi_men)
    for row in rows:
        science = [
            p for p in mast_sim.mast.products_of(row["obs_id"]) if p.name.product_type == "SCIENCE"
        ]
        assert (row["products"], row["size"]) == (len(science), sum(p.size for p in science))


async def test_products_lists_sizes_and_cloud(web: Web, mast_sim: SimThread) -> None:
    answer = await web.client.get(f"/api/mast/products/{MIRI}")
    assert answer.status_code == 200, answer.text
    products = answer.json()["products"]
    assert {tuple(sorted(p)) for p in products} == {tuple(sorted(PRODUCT_KEYS))}
    made = {p.name.filename: p for p in mast_sim.mast.products_of(MIRI)}
    assert {p["filename"]: p["size"] for p in products} == {n: p.size for n, p in made.items()}
    assert {p["filename"]: p["in_cloud"] for p in products} == {
        n: bool(p.name.cloud_key) for n, p in made.items()
    }
    assert all(p["url"].startswith(mast_sim.mast.server_url) for p in products)
    science = await web.client.get(f"/api/mast/products/{MIRI}", params={"product_type": "science"})
    kept = [p for p in made.values() if p.name.product_type == "SCIENCE"]
    assert sorted(p["filename"] for p in science.json()["products"]) == sorted(
        p.name.filename for p in kept
    )
    assert 0 < len(kept) < len(made)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "search by one of: a target name, --ra with --dec, or --obs-id"),
        ({"ra": "10"}, "--ra and --dec go together"),
        ({"ra": "ten", "dec": "1"}, "ra:"),
        ({"obs_id": MIRI, "radius": "3 parsecs"}, "radius '3 parsecs' is not an angle"),
        ({"obs_id": MIRI, "radius": "0"}, "must be more than 0"),
        ({"obs_id": MIRI, "calib_level": "9"}, "calibration level '9' is not one of"),
        ({"obs_id": MIRI, "calib_level": "two"}, "calibration level 'two' is not one of"),
        ({"target": "No Such Thing"}, "MAST could not resolve the name 'No Such Thing'"),
    ],
)
async def test_bad_search_input_is_400_with_one_line(
    web: Web, mast_sim: SimThread, params: dict[str, str], message: str
) -> None:
    answer = await web.client.get("/api/mast/search", params=params)
    assert answer.status_code == 400, answer.text
    assert message in _one_line(answer.json())


async def test_an_unknown_observation_is_400(web: Web, mast_sim: SimThread) -> None:
    answer = await web.client.get("/api/mast/products/jw00000-nothing")
    assert answer.status_code == 400
    assert _one_line(answer.json()) == "MAST has no observation with obs_id: jw00000-nothing"


async def test_an_import_runs_in_the_server_to_its_end(
    web: Web, mast_sim: SimThread, tmp_path: Path
) -> None:
    answer = await web.client.post(
        "/api/mast/import", json={"obs_ids": [TESS], "product_type": None, "source": "http"}
    )
    assert answer.status_code == 200, answer.text
    job_id = answer.json()["job_id"]
    job = await wait_job(web.client, job_id, JobState.SUCCEEDED)
    assert (job["kind"], job["live"]) == (JobKind.IMPORT.value, False)
    assert job["params"]["via"] == "web"
    assert job["params"]["mast"] == {
        "url": mast_sim.mast.server_url,
        "obs_ids": [TESS],
        "product_type": None,
        "source": "http",
    }
    catalog = web.catalog
    ids = catalog.job_file_ids(job_id)
    files = catalog.list_files(Selection(ids=tuple(ids)))
    made = mast_sim.mast_files(mast_sim.mast.products_of(TESS))
    assert len(files) == len(made) == 4
    assert {f.state for f in files} == {FileState.DOWNLOADED}
    progress = job["progress"]
    assert progress["files_done"] == progress["files_total"] == len(ids)
    assert progress["bytes_done"] == sum(f.size or 0 for f in files) > 0
    assert job["file_states"] == {"DOWNLOADED": 4}
    assert sorted(f["path"] for f in job["recent_files"]) == sorted(f.path for f in files)
    # Pushed to every follower several times a second: the fields the page shows, no more.
    assert {tuple(f) for f in job["recent_files"]} == {
        ("id", "path", "state", "size", "error_class", "last_error", "updated_at")
    }
    on_disk = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (tmp_path / "data").rglob("*")
        if p.is_file()
    }
    assert on_disk == {f.product.name.filename: f.http_sha256 for f in made}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"obs_ids": ["jw00000-nothing"]}, "MAST has no observation with obs_id: jw00000-nothing"),
        ({"obs_ids": []}, "obs_ids"),
        ({"obs_ids": [TESS], "source": "ftp"}, "source"),
        ({"obs_ids": [TESS], "sauce": "s3"}, "sauce"),
        ({"obs_ids": TESS}, "obs_ids"),
        ({}, "obs_ids"),
        ({"obs_ids": [TESS], "product_type": "NOTHING"}, "nothing to import"),
    ],
)
async def test_a_bad_import_is_400_and_registers_nothing(
    web: Web, mast_sim: SimThread, body: dict[str, object], message: str
) -> None:
    answer = await web.client.post("/api/mast/import", json=body)
    assert answer.status_code == 400, answer.text
    assert message in _one_line(answer.json())
    assert (await web.client.get("/api/jobs")).json() == []
    assert not any(t.count for t in web.catalog.status_summary().values())


async def test_a_body_that_is_not_json_is_400(web: Web, mast_sim: SimThread) -> None:
    answer = await web.client.post(
        "/api/mast/import", content=b"obs_ids=x", headers={"content-type": "text/plain"}
    )
    assert answer.status_code == 400, answer.text
    _one_line(answer.json())


async def test_mast_failing_is_502_with_one_line(web: Web, mast_sim: SimThread) -> None:
    mast_sim.set_mast_knobs(error_services=["Mast.Caom.Filtered"])
    for answer in (
        await web.client.get("/api/mast/search", params={"obs_id": MIRI}),
        await web.client.get(f"/api/mast/products/{MIRI}"),
        await web.client.post("/api/mast/import", json={"obs_ids": [MIRI]}),
    ):
        assert answer.status_code == 502, answer.text
        assert _one_line(answer.json()).startswith("MAST Mast.Caom.Filtered: ")
    assert (await web.client.get("/api/jobs")).json() == []


async def test_mast_unreachable_is_502(
    web: Web, mast_sim: SimThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        web.server, "settings", replace(web.server.settings, mast_url="http://127.0.0.1:9")
    )
    answer = await web.client.get("/api/mast/search", params={"obs_id": MIRI})
    assert answer.status_code == 502
    assert "cannot connect to" in _one_line(answer.json())


async def test_the_openapi_schema_describes_the_mast_api(web: Web) -> None:
    schema = (await web.client.get("/openapi.json")).json()
    assert {"/api/mast/search", "/api/mast/products/{obs_id}", "/api/mast/import"} <= set(
        schema["paths"]
    )
    request = schema["components"]["schemas"]["ImportRequest"]
    assert request["required"] == ["obs_ids"]
