"""``skyhaul packages``, ``skyhaul copies`` and ``skyhaul stage`` on a real catalog, with
packages archived into real directories."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.services.observatory.archived import archive_all
from typer.testing import Result

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.operations import OperationKind, OperationStatus
from skyhaul.core.packages import PackageEvent, RawFileSpec, plan_packages
from skyhaul.core.placement import CopyStatus
from skyhaul.core.sites import Location, LocationType

Invoke = Callable[..., Result]
NOW = datetime.now(UTC)
FILES = {"u1/m1/a.dat": b"alpha", "u1/m2/b.dat": b"beta" * 100, "u2/m1/c.dat": b"gamma"}


@pytest.fixture
def places(catalog: Catalog, tmp_path: Path) -> dict[str, Location]:
    """A source with FILES registered, an archive, a processing location."""
    catalog.add_site("obs", now=NOW)
    made = {}
    for name, kind in (
        ("src", LocationType.SOURCE),
        ("lta", LocationType.LONG_TERM_ARCHIVE),
        ("proc", LocationType.PROCESSING),
    ):
        (tmp_path / name).mkdir()
        made[name] = catalog.add_location("obs", name, kind, (tmp_path / name).as_uri(), now=NOW)
    for path, data in FILES.items():
        (tmp_path / "src" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / path).write_bytes(data)
    specs = [
        RawFileSpec(p, len(d), hashlib.sha256(d).hexdigest(), *p.split("/")[:2])
        for p, d in FILES.items()
    ]
    catalog.register_raw_files(made["src"].id, specs, now=NOW)
    return made


@pytest.fixture
def archived(catalog: Catalog, places: dict[str, Location]) -> None:
    """u1's two packages ARCHIVED at obs/lta; u2's left WAITING, then FAILED with an error."""
    u1 = [f for f in catalog.unpackaged_files(places["src"].id) if f.obs_unit == "u1"]
    u2 = [f for f in catalog.unpackaged_files(places["src"].id) if f.obs_unit == "u2"]
    [plan] = plan_packages(u2, 1 << 20)
    package = catalog.create_package(plan, source_location=places["src"].id, now=NOW)
    assert package is not None
    catalog.set_package_state(package.id, PackageEvent.FAILED, now=NOW, error="disk on fire")
    assert u1
    asyncio.run(archive_all(catalog, places["src"], [places["lta"]], now=NOW))


def test_packages_lists_state_members_copies_and_errors(
    skyhaul: Invoke, archived: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: no cell wraps
    docs = json.loads(skyhaul("packages", "--json").stdout)
    by_name = {d["name"]: d for d in docs}
    assert set(by_name) == {"u1_m1_001.tar", "u1_m2_001.tar", "u2_m1_001.tar"}
    archived_doc = by_name["u1_m2_001.tar"]
    assert (archived_doc["state"], archived_doc["members"]) == ("ARCHIVED", 1)
    assert archived_doc["size"] and len(archived_doc["sha256"]) == 64
    assert [(c["location"], c["status"]) for c in archived_doc["copies"]] == [
        ("obs/lta", "PRESENT")
    ]
    assert by_name["u2_m1_001.tar"]["error"] == "disk on fire"
    failed = json.loads(skyhaul("packages", "--state", "failed", "--json").stdout)
    assert [d["name"] for d in failed] == ["u2_m1_001.tar"]
    table = skyhaul("packages").stdout
    assert "u1_m1_001.tar" in table and "ARCHIVED" in table and "disk on fire" in table
    assert " obs/lta " in table  # where the package is; deleted copies are left out


def test_copies_of_a_package_and_of_a_raw_file(
    skyhaul: Invoke, catalog: Catalog, places: dict[str, Location], archived: None
) -> None:
    package = json.loads(skyhaul("copies", "u1_m1_001.tar", "--json").stdout)
    assert package["kind"] == "package"
    assert [c["path"] for c in package["package"]["copies"]] == ["packages/u1/u1_m1_001.tar"]
    file = catalog.raw_file_at(places["src"].id, "u1/m1/a.dat")
    assert file is not None
    catalog.record_copy(
        places["src"].id, file.path, file_id=file.id, sha256=file.sha256, verified_at=NOW, now=NOW
    )
    by_ref = json.loads(skyhaul("copies", "obs/src:u1/m1/a.dat", "--json").stdout)
    by_id = json.loads(skyhaul("copies", str(file.id), "--json").stdout)
    assert by_ref == by_id
    assert by_ref["file"]["sha256"] == file.sha256
    assert [(c["location"], c["status"]) for c in by_ref["copies"]] == [("obs/src", "PRESENT")]
    shown = skyhaul("copies", "obs/src:u1/m1/a.dat").stdout
    assert "obs/src" in shown and "PRESENT" in shown


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("nothing.tar", "no package named"),
        ("999", "no raw file with id 999"),
        ("obs/src:u9/none.dat", "no raw file"),
        ("obs/zzz:u1/m1/a.dat", "no location obs/zzz"),
    ],
)
def test_copies_of_something_unknown_is_one_line(
    skyhaul: Invoke, places: dict[str, Location], what: str, message: str
) -> None:
    result = skyhaul("copies", what)
    assert result.exit_code == 2
    assert message in result.stderr


def test_stage_unpacks_an_obs_unit_into_the_processing_location(
    skyhaul: Invoke, catalog: Catalog, places: dict[str, Location], archived: None, tmp_path: Path
) -> None:
    result = skyhaul("stage", "u1", "--to", "obs/proc")
    assert result.exit_code == 0, result.output
    assert "2 package(s) staged at obs/proc" in result.stdout
    for path in ("u1/m1/a.dat", "u1/m2/b.dat"):
        assert (tmp_path / "proc" / path).read_bytes() == FILES[path]
    copies = catalog.copies_at(places["proc"].id)
    assert {c.status for c in copies} == {CopyStatus.STAGED} and len(copies) == 2
    again = json.loads(skyhaul("stage", "u1_m1_001.tar", "--to", "obs/proc", "--json").stdout)
    assert [(p["name"], p["files"]) for p in again["packages"]] == [("u1_m1_001.tar", 1)]
    operations = catalog.operations(kinds=[OperationKind.STAGE])
    assert [op.status for op in operations] == [OperationStatus.COMPLETED] * 3


def test_stage_refuses_what_is_not_archived_and_a_wrong_destination(
    skyhaul: Invoke, archived: None
) -> None:
    failed = skyhaul("stage", "u2", "--to", "obs/proc")
    assert failed.exit_code == 2 and "nothing ARCHIVED" in failed.stderr
    wrong = skyhaul("stage", "u1", "--to", "obs/lta")
    assert wrong.exit_code == 2 and "not processing" in wrong.stderr
