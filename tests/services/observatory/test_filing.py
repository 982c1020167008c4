"""Filing (services.observatory.filing): raw files registered from a manifest or a scan of
a local location, each new one with its PRESENT copy verified at registration."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.packages import plan_packages
from skyhaul.core.placement import CopyEvent, CopyStatus
from skyhaul.core.sites import Location, LocationType
from skyhaul.errors import ManifestError, UsageError
from skyhaul.services.clock import Clock
from skyhaul.services.observatory.filing import register_manifest, scan

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 12, tzinfo=UTC)
SHA_A = "a" * 64
SHA_B = "b" * 64
PATTERN = "{obs_unit}/{instrument_module}/**"


def _clock(at: datetime) -> Clock:
    return Clock(now=lambda: at)


@pytest.fixture
def source(catalog: Catalog, tmp_path: Path) -> Location:
    catalog.add_site("obs", now=NOW)
    root = tmp_path / "src"
    root.mkdir()
    return catalog.add_location("obs", "src", LocationType.SOURCE, root.as_uri(), now=NOW)


def _manifest(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "raw.csv"
    path.write_text(
        "path,obs_unit,instrument_module,size,sha256\n" + "".join(r + "\n" for r in rows)
    )
    return path


def test_a_manifest_registers_its_good_rows_and_reports_the_bad_ones_by_line(
    catalog: Catalog, source: Location, tmp_path: Path
) -> None:
    manifest = _manifest(
        tmp_path,
        f"u1/m1/a.dat,u1,m1,10,{SHA_A}",
        "u1/m1/b.dat,u1,m1,-5,nothex",
        f"../escape.dat,u1,m1,10,{SHA_A}",
        f"u1/m2/c.dat,u1,m2,20,sha256:{SHA_B.upper()}",
    )
    report = register_manifest(catalog, "obs/src", manifest, clock=_clock(NOW))
    assert (report.new, report.known, report.changed, report.locked) == (2, 0, 0, 0)
    assert [problem.line for problem in report.bad_rows] == [3, 4]
    assert report.copies == 2
    copies = catalog.copies_at(source.id)
    assert {(c.path, c.status, c.sha256, c.verified_at) for c in copies} == {
        ("u1/m1/a.dat", CopyStatus.PRESENT, SHA_A, NOW),
        ("u1/m2/c.dat", CopyStatus.PRESENT, SHA_B, NOW),
    }
    file = catalog.raw_file_at(source.id, "u1/m1/a.dat")
    assert file is not None and [c.file_id for c in catalog.copies_of_file(file.id)] == [file.id]


def test_registering_again_is_known_and_a_changed_row_refreshes_its_copy(
    catalog: Catalog, source: Location, tmp_path: Path
) -> None:
    register_manifest(
        catalog, "obs/src", _manifest(tmp_path, f"u1/m1/a.dat,u1,m1,10,{SHA_A}"), clock=_clock(NOW)
    )
    again = register_manifest(
        catalog,
        "obs/src",
        _manifest(tmp_path, f"u1/m1/a.dat,u1,m1,10,{SHA_A}", f"u1/m1/b.dat,u1,m1,3,{SHA_B}"),
        clock=_clock(LATER),
    )
    assert (again.new, again.known, again.copies) == (1, 1, 1)
    changed = register_manifest(
        catalog,
        "obs/src",
        _manifest(tmp_path, f"u1/m1/a.dat,u1,m1,11,{SHA_B}"),
        clock=_clock(LATER),
    )
    assert (changed.changed, changed.copies) == (1, 1)
    [copy] = [c for c in catalog.copies_at(source.id) if c.path == "u1/m1/a.dat"]
    assert (copy.sha256, copy.verified_at) == (SHA_B, LATER)


def test_a_copy_deleted_after_packaging_is_never_brought_back(
    catalog: Catalog, source: Location, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path, f"u1/m1/a.dat,u1,m1,10,{SHA_A}")
    register_manifest(catalog, "obs/src", manifest, clock=_clock(NOW))
    [plan] = plan_packages(catalog.unpackaged_files(source.id), 1000)
    assert catalog.create_package(plan, source_location=source.id, now=NOW) is not None
    [copy] = catalog.copies_at(source.id)
    assert catalog.update_copy_status(copy.id, CopyEvent.LOST, now=NOW) is CopyStatus.DELETED
    again = register_manifest(catalog, "obs/src", manifest, clock=_clock(LATER))
    assert (again.known, again.copies) == (1, 0)
    assert [c.status for c in catalog.copies_at(source.id)] == [CopyStatus.DELETED]


def test_an_unreadable_manifest_or_an_unknown_location_registers_nothing(
    catalog: Catalog, source: Location, tmp_path: Path
) -> None:
    with pytest.raises(ManifestError):
        register_manifest(catalog, "obs/src", tmp_path / "missing.csv")
    with pytest.raises(UsageError, match="no location obs/nope"):
        register_manifest(catalog, "obs/nope", _manifest(tmp_path))
    with pytest.raises(UsageError, match="SITE/NAME"):
        register_manifest(catalog, "obs", _manifest(tmp_path))
    assert catalog.unpackaged_files(source.id) == []


def test_a_scan_registers_what_it_finds_hashed_and_skips_it_next_time(
    catalog: Catalog, source: Location, tmp_path: Path
) -> None:
    root = tmp_path / "src"
    data = {"u1/m1/a.dat": b"alpha", "u1/m2/sub/b.dat": b"beta", "loose.txt": b"x"}
    for path, content in data.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    (root / ".skyhaul" / "packages").mkdir(parents=True)
    (root / ".skyhaul" / "packages" / "u1_m1_001.tar").write_bytes(b"tar")
    report = scan(catalog, "obs/src", PATTERN, clock=_clock(NOW))
    assert (report.new, report.unmatched, report.copies) == (2, 1, 2)
    files = {f.path: f for f in catalog.unpackaged_files(source.id)}
    assert files["u1/m2/sub/b.dat"].sha256 == hashlib.sha256(b"beta").hexdigest()
    assert (files["u1/m2/sub/b.dat"].obs_unit, files["u1/m2/sub/b.dat"].instrument_module) == (
        "u1",
        "m2",
    )
    assert {c.path for c in catalog.copies_at(source.id)} == {"u1/m1/a.dat", "u1/m2/sub/b.dat"}
    (root / "u1/m1/c.dat").write_bytes(b"gamma")
    again = scan(catalog, "obs/src", PATTERN, clock=_clock(LATER))
    assert (again.new, again.known, again.copies) == (1, 2, 1)


def test_a_scan_refuses_an_s3_location_and_a_bad_pattern(
    catalog: Catalog, source: Location
) -> None:
    catalog.add_location("obs", "buf", LocationType.BUFFER, "s3://bucket/buf", now=NOW)
    with pytest.raises(UsageError, match="needs a file:// location"):
        scan(catalog, "obs/buf", PATTERN)
    with pytest.raises(UsageError, match="--pattern"):
        scan(catalog, "obs/src", "{obs_unit}/**")


def test_a_scan_of_a_missing_directory_is_one_line(
    catalog: Catalog, source: Location, tmp_path: Path
) -> None:
    (tmp_path / "src").rmdir()
    with pytest.raises(UsageError, match="cannot scan"):
        scan(catalog, "obs/src", PATTERN)
