"""Staging (services.observatory.staging): archived packages unpacked into a PROCESSING
location from an archive copy, every member checked, each recorded STAGED."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.services.observatory.archived import archive_all

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.packages import Package, RawFileSpec, plan_packages
from skyhaul.core.placement import CopyStatus
from skyhaul.core.sites import Location, LocationType
from skyhaul.errors import IntegrityError, UsageError
from skyhaul.services.clock import Clock
from skyhaul.services.observatory.staging import stage

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
CLOCK = Clock(now=lambda: NOW)
FILES = {
    "u1/m1/a.dat": b"a" * 5000,
    "u1/m1/sub/b.dat": b"bee",
    "u1/m2/c.dat": b"c" * 700,
    "u2/m1/d.dat": b"dd",
}


@pytest.fixture
def places(catalog: Catalog, tmp_path: Path) -> dict[str, Location]:
    catalog.add_site("obs", now=NOW)
    catalog.add_site("dc", now=NOW)
    made = {}
    for site, name, kind in (
        ("obs", "src", LocationType.SOURCE),
        ("dc", "lta", LocationType.LONG_TERM_ARCHIVE),
        ("dc", "lta2", LocationType.LONG_TERM_ARCHIVE),
        ("dc", "proc", LocationType.PROCESSING),
    ):
        (tmp_path / name).mkdir()
        made[name] = catalog.add_location(site, name, kind, (tmp_path / name).as_uri(), now=NOW)
    for path, data in FILES.items():
        (tmp_path / "src" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / path).write_bytes(data)
    specs = [
        RawFileSpec(path, len(data), hashlib.sha256(data).hexdigest(), *path.split("/")[:2])
        for path, data in FILES.items()
    ]
    catalog.register_raw_files(made["src"].id, specs, now=NOW)
    return made


async def _archive(
    catalog: Catalog, places: dict[str, Location], *, archives: tuple[str, ...] = ("lta",)
) -> list[Package]:
    return await archive_all(catalog, places["src"], [places[a] for a in archives], now=NOW)


async def test_an_obs_unit_is_staged_whole_with_its_copies_staged(
    catalog: Catalog, places: dict[str, Location], tmp_path: Path
) -> None:
    await _archive(catalog, places)
    report = await stage(catalog, "u1", "dc/proc", clock=CLOCK)
    assert sorted(p.name for p in report.packages) == ["u1_m1_001.tar", "u1_m2_001.tar"]
    assert {p.archive for p in report.packages} == {"dc/lta"}
    proc = tmp_path / "proc"
    staged = {path: data for path, data in FILES.items() if path.startswith("u1/")}
    for path, data in staged.items():
        assert (proc / path).read_bytes() == data
    assert not (proc / "u2").exists()
    copies = catalog.copies_at(places["proc"].id)
    assert {c.path for c in copies} == set(staged)
    assert {(c.status, c.verified_at) for c in copies} == {(CopyStatus.STAGED, NOW)}
    assert all(c.file_id is not None and c.package_id is None for c in copies)


async def test_one_package_by_name_and_staging_again_rewrites_it(
    catalog: Catalog, places: dict[str, Location], tmp_path: Path
) -> None:
    await _archive(catalog, places)
    first = await stage(catalog, "u2_m1_001.tar", "dc/proc", clock=CLOCK)
    again = await stage(catalog, "u2_m1_001.tar", "dc/proc", clock=CLOCK)
    assert [p.files for p in first.packages] == [p.files for p in again.packages] == [1]
    assert (tmp_path / "proc" / "u2/m1/d.dat").read_bytes() == b"dd"
    assert len(catalog.copies_at(places["proc"].id)) == 1


async def test_a_damaged_archive_copy_is_never_staged_and_the_next_copy_is(
    catalog: Catalog, places: dict[str, Location], tmp_path: Path
) -> None:
    await _archive(catalog, places, archives=("lta", "lta2"))
    tar = tmp_path / "lta" / "packages/u2/u2_m1_001.tar"
    data = bytearray(tar.read_bytes())
    data[512] ^= 0xFF  # the member's first byte
    tar.write_bytes(bytes(data))
    report = await stage(catalog, "u2", "dc/proc", clock=CLOCK)
    assert [p.archive for p in report.packages] == ["dc/lta2"]
    assert (tmp_path / "proc" / "u2/m1/d.dat").read_bytes() == b"dd"
    (tmp_path / "lta2" / "packages/u2/u2_m1_001.tar").write_bytes(bytes(data))
    (tmp_path / "proc" / "u2/m1/d.dat").unlink()
    with pytest.raises(IntegrityError):
        await stage(catalog, "u2", "dc/proc", clock=CLOCK)
    assert not (tmp_path / "proc" / "u2/m1/d.dat").exists()


async def test_nothing_archived_unknown_names_and_wrong_destinations_are_refused(
    catalog: Catalog, places: dict[str, Location]
) -> None:
    [plan, *_] = plan_packages(catalog.unpackaged_files(places["src"].id), 1 << 20)
    catalog.create_package(plan, source_location=places["src"].id, now=NOW)
    with pytest.raises(UsageError, match="nothing ARCHIVED"):
        await stage(catalog, plan.name, "dc/proc", clock=CLOCK)
    with pytest.raises(UsageError, match="no package and no observation unit"):
        await stage(catalog, "u9", "dc/proc", clock=CLOCK)
    with pytest.raises(UsageError, match="not processing"):
        await stage(catalog, "u1", "dc/lta", clock=CLOCK)
    with pytest.raises(UsageError, match="no location"):
        await stage(catalog, "u1", "dc/nope", clock=CLOCK)
