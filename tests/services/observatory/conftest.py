"""Fixtures of the observatory pipeline's tests: a site with a source and buffers on local
disk, archives (local, or a fresh prefix of the S3 simulator), files written by the
simulated observatory and registered as intake does (with their PRESENT source copy),
and a clock the tests move.

S3 is the session's ``mirrored_archive`` moto (``tests/services/conftest.py``), reached
directly with the simulator's keys (``tests/adapters/locations/conftest.s3_transport``):
moto is slow to start, so it is shared.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.adapters.locations.conftest import s3_transport

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.locations import location_storage
from skyhaul.core.operations import OperationKind, OperationStatus
from skyhaul.core.packages import Package, PackageState, RawFile, RawFileSpec
from skyhaul.core.paths import PART_SUFFIX
from skyhaul.core.placement import CopyStatus
from skyhaul.core.sites import Location, LocationType
from skyhaul.ports.locations import LocationStorage, LocationWriter, ObjectEntry, ObjectInfo
from skyhaul.services.clock import Clock
from skyhaul.services.observatory.layout import archive_path
from skyhaul.services.observatory.stagework import Storages
from skyhaul.sim.observatory import Observatory

from ..conftest import Mirrored

START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
async def storages(mirrored_archive: Mirrored) -> AsyncIterator[Storages]:
    """Storages whose ``s3://`` locations reach the session's moto."""
    opened = Storages(s3=s3_transport(mirrored_archive.s3))
    try:
        yield opened
    finally:
        await opened.aclose()


@dataclass
class ManualClock:
    """Wall-clock time the test moves."""

    at: datetime = START

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)

    @property
    def clock(self) -> Clock:
        """The services' clock: this wall clock; waits are real (only heartbeats wait,
        every third of a lease, longer than any test)."""
        return Clock(now=self.now)


@dataclass
class Setup:
    """The locations of one test and the raw files at its source."""

    root: Path
    catalog: Catalog
    source: Location
    buffers: list[Location]
    archives: list[Location]
    files: list[RawFile] = field(default_factory=list)

    @property
    def source_dir(self) -> Path:
        return self.root / "raw"

    def directory(self, location: Location) -> Path:
        """The directory of a local (``file://``) location."""
        return Path(location.url.removeprefix("file://"))

    def write_files(
        self,
        count: int,
        *,
        now: datetime = START,
        seed: int = 0,
        sizes: tuple[int, int] = (512, 6000),
    ) -> list[RawFile]:
        """Write ``count`` files (of ``sizes``: smallest, largest) at the source and
        register them with their copies."""
        entries = Observatory(self.source_dir, units=2, modules=2, seed=seed, sizes=sizes).write(
            count
        )
        specs = [
            RawFileSpec(e.path, e.size, e.sha256, e.obs_unit, e.instrument_module) for e in entries
        ]
        self.catalog.register_raw_files(self.source.id, specs, now=now)
        for entry in entries:
            raw = self.catalog.raw_file_at(self.source.id, entry.path)
            assert raw is not None
            self.catalog.record_copy(
                self.source.id,
                raw.path,
                file_id=raw.id,
                sha256=raw.sha256,
                verified_at=now,
                now=now,
            )
            self.files.append(raw)
        return self.files

    def packages(self) -> list[Package]:
        return self.catalog.packages()

    def source_present(self, raw: RawFile) -> bool:
        """The raw file's bytes are at the source, whole and right."""
        path = self.source_dir / raw.path
        return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == raw.sha256

    def assert_all_archived_and_cleaned(self) -> None:
        """Every raw file is in exactly one package, each ARCHIVED at a local archive
        whose tar hashes right and has its sidecar; the source's files and the buffers'
        tars are gone (a retention of 0), and no part file is left anywhere."""
        packages = self.catalog.packages()
        assert packages and {p.state for p in packages} == {PackageState.ARCHIVED}
        members = sorted(m.file_id for p in packages for m in p.members)
        assert members == sorted(f.id for f in self.files)  # every file, in one package
        archives = {a.id: self.directory(a) for a in self.archives}
        for package in packages:
            [copy] = [
                c for c in self.catalog.copies_of_package(package.id) if c.location in archives
            ]
            assert copy.verified and copy.path == archive_path(package)
            tar = archives[copy.location] / copy.path
            assert hashlib.sha256(tar.read_bytes()).hexdigest() == package.sha256
            assert tar.with_name(tar.name + ".json").is_file()
        assert not any(self.source_present(raw) for raw in self.files)
        for buffer in self.buffers:
            assert not list(self.directory(buffer).rglob("*.tar"))
        assert not list((self.source_dir / ".skyhaul").rglob("*.tar*"))
        assert not list(self.root.rglob(f"*{PART_SUFFIX}"))

    def present_copies(self, location: Location) -> list[str]:
        return sorted(
            c.path
            for c in self.catalog.copies_at(location.id)
            if c.status is not CopyStatus.DELETED
        )


def assert_done_once(catalog: Catalog) -> None:
    """Each step of each package was completed once: nothing made, sent or archived twice."""
    packages = catalog.packages()
    for kind in (
        OperationKind.CREATE_PACKAGE,
        OperationKind.TRANSFER,
        OperationKind.UNPACK_VERIFY,
        OperationKind.ARCHIVE,
    ):
        operations = catalog.operations(kinds=[kind])
        assert {op.status for op in operations} == {OperationStatus.COMPLETED}, kind
        assert sorted(op.package_id or 0 for op in operations) == sorted(p.id for p in packages)
    deletes = catalog.operations(kinds=[OperationKind.DELETE])
    assert {op.status for op in deletes} == {OperationStatus.COMPLETED}
    assert len({op.copy_id for op in deletes}) == len(deletes)  # each copy deleted once


def make_setup(
    catalog: Catalog,
    root: Path,
    *,
    buffers: int = 1,
    archive_urls: list[str] | None = None,
) -> Setup:
    """Site ``obs`` (source ``obs/raw``, buffers ``obs/buf1``... highest priority first)
    and one archive site per URL (``dc1/lta``, ``dc2/lta``...; default one local)."""
    catalog.add_site("obs", now=START)
    (root / "raw").mkdir(parents=True, exist_ok=True)
    source = catalog.add_location(
        "obs", "raw", LocationType.SOURCE, (root / "raw").as_uri(), now=START
    )
    made_buffers = []
    for number in range(1, buffers + 1):
        directory = root / f"buf{number}"
        directory.mkdir()
        made_buffers.append(
            catalog.add_location(
                "obs",
                f"buf{number}",
                LocationType.BUFFER,
                directory.as_uri(),
                priority=100 - number,
                now=START,
            )
        )
    urls = archive_urls or [(root / "lta1").as_uri()]
    archives = []
    for number, url in enumerate(urls, start=1):
        if url.startswith("file://"):
            Path(url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
        catalog.add_site(f"dc{number}", now=START)
        archives.append(
            catalog.add_location(
                f"dc{number}", "lta", LocationType.LONG_TERM_ARCHIVE, url, now=START
            )
        )
    return Setup(root, catalog, source, made_buffers, archives)


def unique_prefix() -> str:
    return f"observatory/{uuid.uuid4().hex}"


class Faults:
    """Faults a test arms: ``hook(operation, path)`` runs before each storage call of a
    :class:`FaultyStorage` and may raise; ``corrupt_writes`` flips a byte of each write."""

    def __init__(self) -> None:
        self.hook: Callable[[str, str], None] | None = None
        self.corrupt_writes = False

    def before(self, operation: str, path: str) -> None:
        if self.hook is not None:
            self.hook(operation, path)


class _FaultyWriter:
    def __init__(self, inner: LocationWriter, faults: Faults) -> None:
        self._inner = inner
        self._faults = faults

    @property
    def path(self) -> str:
        return self._inner.path

    @property
    def size(self) -> int:
        return self._inner.size

    def resume_offset(self) -> int:
        return self._inner.resume_offset()

    async def write(self, chunk: bytes) -> None:
        self._faults.before("write", self.path)
        if self._faults.corrupt_writes and chunk:
            chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
        await self._inner.write(chunk)

    async def sync(self) -> None:
        await self._inner.sync()

    async def commit(self) -> ObjectInfo:
        self._faults.before("commit", self.path)
        return await self._inner.commit()

    async def abort(self) -> None:
        await self._inner.abort()

    async def suspend(self) -> None:
        await self._inner.suspend()


class FaultyStorage:
    """A location's storage with the faults of ``faults`` injected."""

    def __init__(self, inner: LocationStorage, faults: Faults) -> None:
        self._inner = inner
        self.faults = faults

    @property
    def url(self) -> str:
        return self._inner.url

    async def stat(self, path: str) -> ObjectInfo | None:
        self.faults.before("stat", path)
        return await self._inner.stat(path)

    async def _read(self, path: str, offset: int) -> AsyncIterator[bytes]:
        self.faults.before("read", path)
        async for chunk in self._inner.open_read(path, offset):
            yield chunk

    def open_read(self, path: str, offset: int = 0) -> AsyncIterator[bytes]:
        return self._read(path, offset)

    async def writer(self, path: str, *, resume: bool = False) -> LocationWriter:
        self.faults.before("writer", path)
        return _FaultyWriter(await self._inner.writer(path, resume=resume), self.faults)

    async def delete(self, path: str) -> None:
        self.faults.before("delete", path)
        await self._inner.delete(path)

    def walk(self, prefix: str = "") -> AsyncIterator[ObjectEntry]:
        return self._inner.walk(prefix)

    async def aclose(self) -> None:
        await self._inner.aclose()


def faulty_storages(faults_by_name: dict[str, Faults]) -> Storages:
    """Storages whose locations named in ``faults_by_name`` (``buf1``, ``lta``...) are
    wrapped in a :class:`FaultyStorage`."""

    def opener(location: Location) -> LocationStorage:
        storage = location_storage(location.url)
        faults = faults_by_name.get(location.name)
        return storage if faults is None else FaultyStorage(storage, faults)

    return Storages(opener=opener)
