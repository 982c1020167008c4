"""Staging (services.observatory.staging): archived packages unpacked into a PROCESSING
location from an archive copy, every member checked, each recorded STAGED, through STAGE
operations: completed when staged, retried then failed for good when every copy is
damaged, taken over from a dead worker or one whose lease ran out."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.services.observatory.archived import archive_all

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.operations import NewOperation, Operation, OperationKind, OperationStatus
from skyhaul.core.packages import Package, PackageState, RawFileSpec, plan_packages
from skyhaul.core.placement import CopyStatus
from skyhaul.core.sites import Location, LocationType
from skyhaul.errors import IntegrityError, UsageError
from skyhaul.services.clock import Clock
from skyhaul.services.observatory.pipeline import run_pipeline
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


def _stage_operations(catalog: Catalog) -> list[Operation]:
    return catalog.operations(kinds=[OperationKind.STAGE])


def _claimed_by(catalog: Catalog, package: Package, place: Location, owner: str) -> Operation:
    """A STAGE operation of ``package`` claimed by ``owner`` at NOW, leased for 120 s."""
    new = NewOperation(OperationKind.STAGE, package_id=package.id, destination_location=place.id)
    catalog.enqueue_operation(new, now=NOW)
    [claimed] = catalog.claim_operations(
        OperationKind.STAGE, owner, now=NOW, lease_seconds=120, limit=1
    )
    return claimed


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
    operations = _stage_operations(catalog)
    assert sorted(op.package_id or 0 for op in operations) == sorted(
        p.id for p in catalog.packages(obs_unit="u1")
    )
    assert {(op.status, op.destination_location) for op in operations} == {
        (OperationStatus.COMPLETED, places["proc"].id)
    }


async def test_one_package_by_name_and_staging_again_rewrites_it(
    catalog: Catalog, places: dict[str, Location], tmp_path: Path
) -> None:
    await _archive(catalog, places)
    first = await stage(catalog, "u2_m1_001.tar", "dc/proc", clock=CLOCK)
    again = await stage(catalog, "u2_m1_001.tar", "dc/proc", clock=CLOCK)
    assert [p.files for p in first.packages] == [p.files for p in again.packages] == [1]
    assert (tmp_path / "proc" / "u2/m1/d.dat").read_bytes() == b"dd"
    assert len(catalog.copies_at(places["proc"].id)) == 1
    statuses = [op.status for op in _stage_operations(catalog)]
    assert statuses == [OperationStatus.COMPLETED] * 2  # a new operation once one is done


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
    first, failed = _stage_operations(catalog)
    assert first.status is OperationStatus.COMPLETED
    # Every copy damaged: retried (the bytes may be repaired), then failed for good.
    assert (failed.status, failed.retries, failed.error_class) == (
        OperationStatus.FAILED,
        3,
        "integrity",
    )
    [package] = catalog.packages(obs_unit="u2")
    assert package.state is PackageState.ARCHIVED  # the archive is not the package's fault


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


async def test_an_operation_left_by_a_dead_process_is_taken_over(
    catalog: Catalog, places: dict[str, Location], tmp_path: Path
) -> None:
    [package] = [p for p in await _archive(catalog, places) if p.name == "u2_m1_001.tar"]
    child = await asyncio.create_subprocess_exec("true")
    await child.wait()
    # A lease far from over: only the dead-owner check can free it.
    left = _claimed_by(catalog, package, places["proc"], f"{socket.gethostname()}:{child.pid}:x")
    report = await stage(catalog, "u2", "dc/proc", clock=CLOCK)
    assert [(p.name, p.archive) for p in report.packages] == [("u2_m1_001.tar", "dc/lta")]
    assert (tmp_path / "proc" / "u2/m1/d.dat").read_bytes() == b"dd"
    [operation] = _stage_operations(catalog)
    assert (operation.id, operation.status) == (left.id, OperationStatus.COMPLETED)


class _WaitingClock:
    """Wall-clock time that moves only as the service sleeps."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        await asyncio.sleep(0)


async def test_an_operation_held_elsewhere_is_waited_for_then_taken_over_when_its_lease_ends(
    catalog: Catalog, places: dict[str, Location], tmp_path: Path
) -> None:
    [package] = [p for p in await _archive(catalog, places) if p.name == "u2_m1_001.tar"]
    left = _claimed_by(catalog, package, places["proc"], "elsewhere:1:x")  # alive, for all we know
    waiting = _WaitingClock(NOW + timedelta(seconds=30))
    clock = Clock(now=waiting.now, sleep=waiting.sleep)
    report = await stage(catalog, "u2_m1_001.tar", "dc/proc", clock=clock)
    assert [p.archive for p in report.packages] == ["dc/lta"]
    assert waiting.at > NOW + timedelta(seconds=120)  # not before the lease ended
    [operation] = _stage_operations(catalog)
    assert (operation.id, operation.status) == (left.id, OperationStatus.COMPLETED)
    assert operation.retries == 0  # a lost lease is not the operation's fault


async def test_the_pipeline_staging_stage_finishes_what_a_stage_left(
    catalog: Catalog, places: dict[str, Location], tmp_path: Path
) -> None:
    [package] = [p for p in await _archive(catalog, places) if p.name == "u1_m2_001.tar"]
    _claimed_by(catalog, package, places["proc"], "elsewhere:1:x")
    later = Clock(now=lambda: NOW + timedelta(hours=1))
    default = await run_pipeline(catalog, once=True, clock=later)
    assert "staging" not in default.stages  # staging only when asked for
    summary = await run_pipeline(catalog, ["staging"], once=True, clock=later)
    assert summary.stages["staging"].done == 1 and not summary.failures
    assert (tmp_path / "proc" / "u1/m2/c.dat").read_bytes() == FILES["u1/m2/c.dat"]
    assert [c.status for c in catalog.copies_at(places["proc"].id)] == [CopyStatus.STAGED]


async def test_a_destination_made_inactive_fails_its_operation_for_good(
    catalog: Catalog, places: dict[str, Location]
) -> None:
    [package] = [p for p in await _archive(catalog, places) if p.name == "u2_m1_001.tar"]
    new = NewOperation(
        OperationKind.STAGE, package_id=package.id, destination_location=places["proc"].id
    )
    catalog.enqueue_operation(new, now=NOW)
    catalog.set_location_active("dc", "proc", False, now=NOW)
    summary = await run_pipeline(catalog, ["staging"], once=True, clock=CLOCK)
    [failure] = summary.failures
    assert failure.package == package.name and "dc/proc is inactive" in failure.error
    [operation] = _stage_operations(catalog)
    assert (operation.status, operation.retries) == (OperationStatus.FAILED, 0)
    with pytest.raises(UsageError, match="inactive"):
        await stage(catalog, "u2", "dc/proc", clock=CLOCK)
