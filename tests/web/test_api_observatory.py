"""``/api/sites``, ``/api/packages`` and ``/api/locations/{site}/{name}/copies`` in-process
over a real catalog, with packages archived into real directories."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from tests.services.observatory.archived import archive_all

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.packages import PackageEvent, RawFileSpec, plan_packages
from skyhaul.core.sites import Location, LocationType

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
FILES = {"u1/m1/a.dat": b"alpha", "u2/m1/b.dat": b"beta"}
HOSTILE = "<b>x</b>"


@pytest.fixture
async def observatory(web_catalog: Catalog, tmp_path: Path) -> dict[str, Location]:
    """A site with a source (FILES registered, each with its PRESENT copy) and an archive;
    u1's package ARCHIVED there, u2's FAILED with a hostile error."""
    catalog = web_catalog
    catalog.add_site("obs", short_name="O", now=NOW)
    made = {}
    for name, kind in (("src", LocationType.SOURCE), ("lta", LocationType.LONG_TERM_ARCHIVE)):
        (tmp_path / name).mkdir()
        made[name] = catalog.add_location("obs", name, kind, (tmp_path / name).as_uri(), now=NOW)
    specs = []
    for path, data in FILES.items():
        (tmp_path / "src" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / path).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        specs.append(RawFileSpec(path, len(data), digest, *path.split("/")[:2]))
    catalog.register_raw_files(made["src"].id, specs, now=NOW)
    for file in catalog.unpackaged_files(made["src"].id):
        catalog.record_copy(
            made["src"].id, file.path, file_id=file.id, sha256=file.sha256, verified_at=NOW, now=NOW
        )
    [u2] = plan_packages(
        [f for f in catalog.unpackaged_files(made["src"].id) if f.obs_unit == "u2"], 1 << 20
    )
    failed = catalog.create_package(u2, source_location=made["src"].id, now=NOW)
    assert failed is not None
    catalog.set_package_state(failed.id, PackageEvent.FAILED, now=NOW, error=HOSTILE)
    await archive_all(catalog, made["src"], [made["lta"]], now=NOW)
    return made


async def test_sites_list_their_locations(
    api: httpx.AsyncClient, observatory: dict[str, Location]
) -> None:
    answer = await api.get("/api/sites")
    assert answer.status_code == 200
    [site] = answer.json()
    assert (site["name"], site["short_name"]) == ("obs", "O")
    assert [(loc["ref"], loc["type"]) for loc in site["locations"]] == [
        ("obs/lta", "long_term_archive"),
        ("obs/src", "source"),
    ]


async def test_packages_carry_state_copies_and_error_and_filter_by_state(
    api: httpx.AsyncClient, observatory: dict[str, Location]
) -> None:
    everything = (await api.get("/api/packages")).json()
    by_name = {p["name"]: p for p in everything}
    assert by_name["u2_m1_001.tar"]["state"] == "FAILED"
    assert by_name["u2_m1_001.tar"]["error"] == HOSTILE
    archived = by_name["u1_m1_001.tar"]
    assert (archived["state"], archived["members"]) == ("ARCHIVED", 1)
    assert [(c["location"], c["status"], c["path"]) for c in archived["copies"]] == [
        ("obs/lta", "PRESENT", "packages/u1/u1_m1_001.tar")
    ]
    only = (await api.get("/api/packages", params={"state": "ARCHIVED"})).json()
    assert [p["name"] for p in only] == ["u1_m1_001.tar"]
    bad = await api.get("/api/packages", params={"state": "LOST"})
    assert bad.status_code == 400 and "state" in bad.json()["error"]


async def test_a_locations_copies_by_status_and_paged(
    api: httpx.AsyncClient, observatory: dict[str, Location]
) -> None:
    source = (await api.get("/api/locations/obs/src/copies")).json()
    assert source["location"]["ref"] == "obs/src"
    assert (source["total"], source["by_status"]["PRESENT"], source["by_status"]["DELETED"]) == (
        2,
        2,
        0,
    )
    assert {c["path"] for c in source["copies"]} == set(FILES)
    assert all(c["file_id"] is not None for c in source["copies"])
    counts = (await api.get("/api/locations/obs/src/copies", params={"limit": 0})).json()
    assert (counts["total"], counts["copies"]) == (2, [])
    second = (await api.get("/api/locations/obs/src/copies?limit=1&offset=1")).json()
    assert [c["path"] for c in second["copies"]] == [sorted(c["path"] for c in source["copies"])[1]]
    archive = (await api.get("/api/locations/obs/lta/copies")).json()
    assert [c["package_id"] is not None for c in archive["copies"]] == [True]


async def test_an_unknown_location_is_404_and_a_bad_name_400(
    api: httpx.AsyncClient, observatory: dict[str, Location]
) -> None:
    missing = await api.get("/api/locations/obs/nope/copies")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no location obs/nope"}
    bad = await api.get("/api/locations/obs/%20bad/copies")
    assert bad.status_code == 400 and "bad location name" in bad.json()["error"]
