"""``skyhaul download``: the eligible files already in the catalog, narrowed by filters."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import Result

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.model import FileSpec
from skyhaul.sim import SimThread

Invoke = Callable[..., Result]
States = Callable[[], dict[str, int]]


@pytest.fixture
def registered(sim: SimThread, catalog: Catalog, tmp_path: Path) -> list[FileSpec]:
    """The simulator's files in the catalog (sources by parity), none downloaded yet."""
    specs = [
        FileSpec(
            url=f.url,
            path=f.path,
            size=f.size,
            checksum=f.checksum,
            instrument=f.version.file.instrument,
            source="even" if i % 2 == 0 else "odd",
        )
        for i, f in enumerate(sim.files)
    ]
    catalog.register(specs, str(tmp_path / "data"), now=datetime.now(UTC))
    return specs


def downloaded(result: Result) -> int:
    assert result.exit_code == 0, result.output
    count = json.loads(result.stdout)["downloaded"]
    assert isinstance(count, int)
    return count


def test_download_everything_eligible(
    skyhaul: Invoke, registered: list[FileSpec], states: States, tmp_path: Path
) -> None:
    assert downloaded(skyhaul("download", "--json")) == len(registered)
    assert states() == {"DOWNLOADED": len(registered)}
    assert all((tmp_path / "data" / s.path).is_file() for s in registered)
    assert downloaded(skyhaul("download", "--json")) == 0


def test_download_by_instrument(
    skyhaul: Invoke, registered: list[FileSpec], states: States
) -> None:
    instrument = registered[0].instrument
    assert instrument is not None
    wanted = sum(1 for s in registered if s.instrument == instrument)
    assert downloaded(skyhaul("download", "--instrument", instrument, "--json")) == wanted
    assert states() == {"DOWNLOADED": wanted, "DISCOVERED": len(registered) - wanted}


def test_download_by_source_and_url_prefix(
    skyhaul: Invoke, registered: list[FileSpec], states: States
) -> None:
    evens = sum(1 for s in registered if s.source == "even")
    assert downloaded(skyhaul("download", "--source", "even", "--json")) == evens
    prefix = registered[1].url
    assert downloaded(skyhaul("download", "--url-prefix", prefix, "--json")) == 1
    assert states()["DOWNLOADED"] == evens + 1


def test_download_human_summary(skyhaul: Invoke, registered: list[FileSpec]) -> None:
    result = skyhaul("download", "--no-progress")
    assert result.exit_code == 0, result.output
    first, catalog_line = result.stdout.splitlines()
    assert first.startswith(f"{len(registered)} downloaded, 0 failed, 0 abandoned — ")
    assert catalog_line.startswith("Catalog: ")


def test_download_with_nothing_in_the_catalog(skyhaul: Invoke, catalog_url: str) -> None:
    assert downloaded(skyhaul("download", "--json")) == 0
