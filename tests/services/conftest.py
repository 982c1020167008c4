"""Fixtures for engine tests: a real catalog on disk and a real simulator on loopback."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileSpec, Selection
from skyhaul.sim.archive import ArchiveSpec, SizeBand
from skyhaul.sim.config import SimConfig
from skyhaul.sim.thread import SimThread

NOW = datetime(2026, 1, 1, tzinfo=UTC)
KIB = 1024
MIB = 1024 * 1024

#: Mostly small files and a few that span several 256 KiB segments.
MIXED = ArchiveSpec(
    seed=7,
    count=24,
    sizes=(SizeBand(8 * KIB, 200 * KIB, 0.75), SizeBand(700 * KIB, 2 * MIB, 0.25)),
)


@pytest.fixture(scope="session")
def sim_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One materialised archive cache shared by the session's simulators."""
    return tmp_path_factory.mktemp("sim-cache")


@pytest.fixture
def sim(sim_root: Path) -> Iterator[SimThread]:
    """A fault-free simulator serving the MIXED archive (tests turn faults on)."""
    with SimThread(SimConfig(archive=MIXED, root=sim_root)) as running:
        yield running


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    opened = open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield opened
    opened.close()


def specs_from(sim: SimThread, *, with_checksums: bool = True) -> list[FileSpec]:
    """The simulator's listing as file specs (with expected sizes and checksums)."""
    return [
        FileSpec(
            url=f.url,
            path=f.path,
            size=f.size if with_checksums else None,
            checksum=f"sha256:{f.sha256}" if with_checksums else None,
        )
        for f in sim.files
    ]


def assert_catalog_truthful(catalog: Catalog) -> None:
    """Every DOWNLOADED row has a complete, verified file; no .part file is promoted."""
    for record in catalog.list_files(Selection(states=frozenset({FileState.DOWNLOADED}))):
        final = Path(record.dest_root) / record.path
        data = final.read_bytes()
        assert len(data) == record.size, record.path
        assert hashlib.sha256(data).hexdigest() == record.sha256, record.path
        if record.checksum:
            algorithm, _, expected = record.checksum.partition(":")
            assert algorithm == "sha256"
            assert record.sha256 == expected, f"{record.path}: corrupt file marked DOWNLOADED"
        assert not final.with_name(final.name + ".part").exists()
    assert not catalog.list_files(Selection(states=frozenset({FileState.DOWNLOADING})))


def states(catalog: Catalog) -> dict[FileState, int]:
    return {state: totals.count for state, totals in catalog.status_summary().items()}
