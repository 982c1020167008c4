"""Fixtures for service tests: a real catalog on disk and real simulators on loopback
(serving files, or records for the backfill).

``mirrored`` serves one archive over HTTP and over S3 (moto behind the fault proxy) for
the whole session, since moto is slow to start: tests that change an object use a file
no other test reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.adapters.sources.records_api import RecordsApiSettings
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileSpec, Selection
from skyhaul.core.paths import part_name
from skyhaul.sim.archive import ArchiveSpec, SizeBand
from skyhaul.sim.config import SimConfig
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.listing import ListedFile
from skyhaul.sim.records_config import RecordsConfig
from skyhaul.sim.s3 import SIM_CREDENTIALS, SIM_REGION
from skyhaul.sim.s3_thread import S3SimThread
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
        assert not final.with_name(part_name(final.name)).exists()
    assert not catalog.list_files(Selection(states=frozenset({FileState.DOWNLOADING})))


def states(catalog: Catalog) -> dict[FileState, int]:
    return {state: totals.count for state, totals in catalog.status_summary().items()}


#: One small file: the simulator of a backfill serves records, not files.
TINY = ArchiveSpec(seed=3, count=1, sizes=(SizeBand(1024, 2048, 1.0),))
#: Two sensors, two dosimeters each, one sample a minute: 5,760 records a day.
RECORDS = RecordsConfig(sensors=2, cadence=60.0)
PER_DAY = 2 * 2 * 1440


@pytest.fixture
def records_sim(sim_root: Path) -> Iterator[SimThread]:
    """A simulator serving RECORDS from its records API."""
    with SimThread(SimConfig(archive=TINY, root=sim_root)) as running:
        set_records(running, RECORDS)
        yield running


def set_records(sim: SimThread, config: RecordsConfig) -> None:
    sim.set_faults(replace(sim.faults, records=config))


def settings_for(sim: SimThread, **changes: object) -> RecordsApiSettings:
    """The records source ``reach`` on ``sim``, one request an hour of the day."""
    base = RecordsApiSettings(
        name="reach",
        url=sim.base_url + "api/records",
        query="?sensor={sensor}&obTime={start}..{end}",
        params={"sensor": "ALL"},
        chunk=timedelta(hours=1),
        expected_per_day=PER_DAY,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


#: Blobs served over HTTP and over S3 alike (one cache, the same bytes): files of eight
#: 256 KiB segments, files of one segment, and one of 100 MiB. Each test takes files of
#: its own, by index: test_mirrors the 2 MiB files 0-6 and 64 KiB files 1-2,
#: test_s3_transfer the 2 MiB files 7-12, the 64 KiB file 3 and the 100 MiB one.
MIRRORED = ArchiveSpec(
    seed=43,
    count=18,
    sizes=(
        SizeBand(2 * MIB, 2 * MIB, 13),
        SizeBand(64 * KIB, 64 * KIB, 4),
        SizeBand(100 * MIB, 100 * MIB, 1),
    ),
    kind="blob",
)
S3_BUCKET = "skyhaul-engine-tests"


@dataclass(frozen=True)
class Mirrored:
    """The MIRRORED archive over HTTP and over S3 (the S3 fault proxy in front of moto)."""

    http: SimThread
    s3: S3SimThread

    def files(self, size: int) -> list[ListedFile]:
        """The HTTP listing's files of ``size`` bytes, in archive order."""
        return [f for f in self.http.files if f.size == size]

    def s3_url(self, f: ListedFile) -> str:
        """The S3 URL of the same file."""
        return self.s3.url_for(f.path)

    def put(self, key: str, data: bytes) -> str:
        """Upload ``data`` under ``key`` (anyone may read it); return its S3 URL."""
        client = boto3.client(
            "s3",
            endpoint_url=self.s3.moto_endpoint,
            region_name=SIM_REGION,
            aws_access_key_id=SIM_CREDENTIALS[0],
            aws_secret_access_key=SIM_CREDENTIALS[1],
        )
        client.put_object(Bucket=self.s3.bucket, Key=key, Body=data, ACL="public-read")
        return self.s3.url_for(key)


@pytest.fixture(scope="session")
def mirrored_archive(sim_root: Path) -> Iterator[Mirrored]:
    config = SimConfig(archive=MIRRORED, root=sim_root)
    with SimThread(config) as http, S3SimThread(config, bucket=S3_BUCKET) as s3:
        yield Mirrored(http, s3)


@pytest.fixture
def mirrored(mirrored_archive: Mirrored, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirrored]:
    """Both sides without faults, and the AWS environment pointing at the S3 simulator
    (unsigned: no credentials anywhere). Faults are turned off again after the test."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", mirrored_archive.s3.endpoint)
    monkeypatch.setenv("AWS_SKIP_SIGNATURE", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield mirrored_archive
    finally:
        mirrored_archive.http.set_faults(FaultConfig())
        mirrored_archive.s3.set_faults(FaultConfig())
