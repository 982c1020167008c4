"""``skyhaul files register|scan`` on a real catalog and real directories: counts on
stdout, bad rows and skipped files on stderr, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import Result

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.placement import CopyStatus
from skyhaul.core.sites import Location, LocationType
from skyhaul.sim.observatory import Observatory

Invoke = Callable[..., Result]
NOW = datetime.now(UTC)
SHA = "c" * 64
PATTERN = "{obs_unit}/{instrument_module}/**"


@pytest.fixture
def source(catalog: Catalog, tmp_path: Path) -> Location:
    catalog.add_site("obs", now=NOW)
    (tmp_path / "src").mkdir()
    return catalog.add_location(
        "obs", "src", LocationType.SOURCE, (tmp_path / "src").as_uri(), now=NOW
    )


def test_a_manifest_with_a_bad_row_registers_the_rest_and_exits_2(
    skyhaul: Invoke, catalog: Catalog, source: Location, tmp_path: Path
) -> None:
    manifest = tmp_path / "raw.csv"
    manifest.write_text(
        "path,obs_unit,instrument_module,size,sha256\n"
        f"u1/m1/a.dat,u1,m1,10,{SHA}\n"
        "u1/m1/b.dat,u1,m1,10,xyz\n"
        f"u1/m2/c.dat,u1,m2,4,{SHA}\n"
    )
    result = skyhaul("files", "register", "obs/src", "-i", str(manifest))
    assert result.exit_code == 2
    assert "obs/src: 2 new, 0 known" in result.stdout
    assert f"bad row skipped: {manifest}:3:" in result.stderr
    assert {f.path for f in catalog.unpackaged_files(source.id)} == {"u1/m1/a.dat", "u1/m2/c.dat"}
    assert {c.status for c in catalog.copies_at(source.id)} == {CopyStatus.PRESENT}
    again = skyhaul("files", "register", "obs/src", "-i", str(manifest), "--json")
    document = json.loads(again.stdout)
    assert (document["new"], document["known"]) == (0, 2)
    assert [row["line"] for row in document["bad_rows"]] == [3]


def test_a_good_manifest_exits_0_and_a_missing_one_is_one_line(
    skyhaul: Invoke, source: Location, tmp_path: Path
) -> None:
    manifest = tmp_path / "raw.json"
    manifest.write_text(json.dumps({"files": [
        {"path": "u/m/a", "obs_unit": "u", "instrument_module": "m", "size": 1, "sha256": SHA}
    ]}))  # fmt: skip
    assert skyhaul("files", "register", "obs/src", "-i", str(manifest)).exit_code == 0
    missing = skyhaul("files", "register", "obs/src", "-i", str(tmp_path / "none.csv"))
    assert missing.exit_code == 2
    assert len(missing.stderr.strip().splitlines()) == 1
    unknown = skyhaul("files", "register", "obs/nope", "-i", str(manifest))
    assert unknown.exit_code == 2 and "no location obs/nope" in unknown.stderr


def test_a_scan_registers_the_simulated_observatorys_files(
    skyhaul: Invoke, catalog: Catalog, source: Location, tmp_path: Path
) -> None:
    written = Observatory(tmp_path / "src", rate=1000.0, units=2, modules=2, seed=1).write(8)
    result = skyhaul("files", "scan", "obs/src", "--pattern", PATTERN)
    assert result.exit_code == 0, result.output
    assert "obs/src: 8 new, 0 known" in result.stdout
    registered = {f.path: f.sha256 for f in catalog.unpackaged_files(source.id)}
    assert registered == {entry.path: entry.sha256 for entry in written}
    again = json.loads(skyhaul("files", "scan", "obs/src", "--pattern", PATTERN, "--json").stdout)
    assert (again["new"], again["known"]) == (0, 8)


def test_a_scan_of_an_s3_location_or_with_a_bad_pattern_is_one_line(
    skyhaul: Invoke, catalog: Catalog, source: Location
) -> None:
    catalog.add_location("obs", "buf", LocationType.BUFFER, "s3://bucket/buf", now=NOW)
    refused = skyhaul("files", "scan", "obs/buf", "--pattern", PATTERN)
    assert refused.exit_code == 2 and "needs a file:// location" in refused.stderr
    bad = skyhaul("files", "scan", "obs/src", "--pattern", "{obs_unit}/*")
    assert bad.exit_code == 2 and "--pattern" in bad.stderr
    assert "Traceback" not in refused.output + bad.output
