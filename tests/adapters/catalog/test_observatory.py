"""The observatory's catalog section, on SQLite and on PostgreSQL (see conftest)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

import pytest

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.operations import (
    NewOperation,
    OperationKind,
    OperationStatus,
    after_failure,
)
from skyhaul.core.packages import PackageEvent, PackageState, RawFileSpec, plan_packages
from skyhaul.core.placement import CopyEvent, CopyStatus
from skyhaul.core.sites import Location, LocationType
from skyhaul.errors import IllegalTransitionError, UsageError

K = OperationKind
SHA = "a" * 64
OTHER_SHA = "b" * 64


@dataclass
class World:
    source: Location
    buffer: Location
    archive: Location


@pytest.fixture
def world(catalog: Catalog, now: datetime) -> World:
    catalog.add_site("ccat", short_name="CC", now=now)
    catalog.add_site("cologne", now=now)
    return World(
        source=catalog.add_location(
            "ccat", "instruments", LocationType.SOURCE, "file:///data/src", now=now
        ),
        buffer=catalog.add_location(
            "ccat", "buffer", LocationType.BUFFER, "file:///data/buf", priority=5, now=now
        ),
        archive=catalog.add_location(
            "cologne", "lta", LocationType.LONG_TERM_ARCHIVE, "s3://lta/raw", now=now
        ),
    )


def spec(
    path: str, size: int = 10, sha: str = SHA, unit: str = "u1", module: str = "m1"
) -> RawFileSpec:
    return RawFileSpec(path, size, sha, unit, module)


# --- sites and locations -----------------------------------------------------------------


def test_sites_and_locations_are_added_listed_and_found(
    catalog: Catalog, world: World, now: datetime
) -> None:
    assert [(s.name, s.short_name) for s in catalog.list_sites()] == [
        ("ccat", "CC"),
        ("cologne", "cologne"),
    ]
    second = catalog.add_location(
        "ccat", "buffer2", LocationType.BUFFER, "file:///data/buf2", priority=9, now=now
    )
    listed = [loc.ref for loc in catalog.list_locations()]
    assert listed == ["ccat/buffer2", "ccat/buffer", "ccat/instruments", "cologne/lta"]
    buffers = catalog.list_locations(site="ccat", type=LocationType.BUFFER)
    assert [loc.name for loc in buffers] == ["buffer2", "buffer"]
    assert catalog.location("ccat", "buffer2") == second
    assert catalog.location_by_id(world.archive.id) == world.archive
    assert world.archive.type is LocationType.LONG_TERM_ARCHIVE and world.archive.active
    assert catalog.location("ccat", "nope") is None


def test_a_location_is_made_inactive_and_active_again(
    catalog: Catalog, world: World, now: datetime
) -> None:
    off = catalog.set_location_active("ccat", "buffer", False, now=now)
    assert not off.active and not catalog.location("ccat", "buffer").active  # type: ignore[union-attr]
    assert catalog.set_location_active("ccat", "buffer", True, now=now).active
    with pytest.raises(UsageError, match="no location ccat/gone"):
        catalog.set_location_active("ccat", "gone", True, now=now)


@pytest.mark.parametrize(
    ("site", "name", "url", "message"),
    [
        ("mars", "x", "file:///x", "no site 'mars'"),
        ("ccat", "buffer", "file:///x", "exists already"),
        ("ccat", "bad name", "file:///x", "bad location name"),
        ("ccat", "x", "http://x", "bad location URL"),
    ],
)
def test_bad_locations_are_refused_in_one_line(
    catalog: Catalog, world: World, now: datetime, site: str, name: str, url: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        catalog.add_location(site, name, LocationType.BUFFER, url, now=now)


def test_a_site_name_is_taken_once(catalog: Catalog, world: World, now: datetime) -> None:
    with pytest.raises(UsageError, match="site 'ccat' exists already"):
        catalog.add_site("ccat", now=now)
    with pytest.raises(UsageError, match="bad site name"):
        catalog.add_site("a/b", now=now)


# --- raw files ---------------------------------------------------------------------------


def test_registering_is_idempotent_and_counts_new_known_changed(
    catalog: Catalog, world: World, now: datetime, at
) -> None:
    first = catalog.register_raw_files(world.source.id, [spec("u1/m1/a"), spec("u1/m1/b")], now=now)
    assert (first.new, first.known, first.changed) == (2, 0, 0)
    again = catalog.register_raw_files(
        world.source.id, [spec("u1/m1/a"), spec("u1/m1/b", size=11), spec("./u1//m1/c")], now=at(5)
    )
    assert (again.new, again.known, again.changed, again.locked) == (1, 1, 1, 0)
    files = catalog.unpackaged_files(world.source.id)
    assert [(f.path, f.size) for f in files] == [("u1/m1/a", 10), ("u1/m1/b", 11), ("u1/m1/c", 10)]
    assert files[1].registered_at == at(5) and files[0].registered_at == now
    assert catalog.raw_file_at(world.source.id, "u1/m1/a") == files[0]
    assert catalog.raw_file(files[2].id) == files[2]
    assert catalog.unpackaged_files(world.buffer.id) == []
    assert catalog.unpackaged_files(world.source.id, limit=1) == files[:1]


def test_registering_records_each_files_present_copy_at_once(
    catalog: Catalog, world: World, now: datetime, at
) -> None:
    catalog.register_raw_files(world.source.id, [spec("u1/a"), spec("u1/b")], now=now)
    copies = catalog.copies_at(world.source.id)
    files = {f.path: f for f in catalog.unpackaged_files(world.source.id)}
    assert sorted((c.path, c.file_id, c.status, c.verified_at) for c in copies) == [
        ("u1/a", files["u1/a"].id, CopyStatus.PRESENT, now),
        ("u1/b", files["u1/b"].id, CopyStatus.PRESENT, now),
    ]
    catalog.register_raw_files(
        world.source.id, [spec("u1/a"), spec("u1/b", sha=OTHER_SHA)], now=at(9)
    )
    after = {c.path: c for c in catalog.copies_at(world.source.id)}
    assert len(after) == 2  # a known file adds no copy; a changed one refreshes its own
    assert (after["u1/a"].sha256, after["u1/a"].verified_at) == (files["u1/a"].sha256, now)
    assert (after["u1/b"].sha256, after["u1/b"].verified_at) == (OTHER_SHA, at(9))


def test_a_packaged_file_that_changed_is_locked(
    catalog: Catalog, world: World, now: datetime
) -> None:
    catalog.register_raw_files(world.source.id, [spec("a")], now=now)
    [plan] = plan_packages(catalog.unpackaged_files(world.source.id), 100)
    assert catalog.create_package(plan, source_location=world.source.id, now=now) is not None
    result = catalog.register_raw_files(world.source.id, [spec("a", sha=OTHER_SHA)], now=now)
    assert (result.new, result.known, result.changed, result.locked) == (0, 0, 0, 1)
    assert catalog.raw_file_at(world.source.id, "a").sha256 == SHA  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ([spec("../escape")], "unsafe"),
        ([spec("/abs")], "unsafe"),
        ([spec("a", size=-1)], "negative size"),
        ([spec("a", sha="xyz")], "sha256"),
        ([spec("a"), spec("a", size=2)], "listed twice"),
    ],
)
def test_bad_raw_files_refuse_the_whole_batch(
    catalog: Catalog, world: World, now: datetime, specs: list[RawFileSpec], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        catalog.register_raw_files(world.source.id, [spec("fine"), *specs], now=now)
    assert catalog.unpackaged_files(world.source.id) == []


def test_registering_at_an_unknown_location_is_refused(catalog: Catalog, now: datetime) -> None:
    with pytest.raises(UsageError, match="no location with id 999"):
        catalog.register_raw_files(999, [spec("a")], now=now)


# --- packages ----------------------------------------------------------------------------


def test_a_package_claims_its_files_and_enqueues_its_first_operation(
    catalog: Catalog, world: World, now: datetime
) -> None:
    catalog.register_raw_files(
        world.source.id, [spec("u1/m1/b", 5), spec("u1/m1/a", 7, sha=OTHER_SHA)], now=now
    )
    [plan] = plan_packages(catalog.unpackaged_files(world.source.id), 100)
    first = NewOperation(K.CREATE_PACKAGE, source_location=world.source.id)
    package = catalog.create_package(plan, source_location=world.source.id, now=now, then=[first])
    assert package is not None
    assert (package.name, package.state, package.size, package.sha256) == (
        "u1_m1_001.tar",
        PackageState.WAITING,
        None,
        None,
    )
    assert [(m.path, m.size, m.sha256) for m in package.members] == [
        ("u1/m1/a", 7, OTHER_SHA),
        ("u1/m1/b", 5, SHA),
    ]
    assert package.source_location == world.source.id
    assert catalog.unpackaged_files(world.source.id) == []
    assert {catalog.raw_file(m.file_id).package_id for m in package.members} == {package.id}  # type: ignore[union-attr]
    [operation] = catalog.operations(package_id=package.id)
    assert (operation.kind, operation.status) == (K.CREATE_PACKAGE, OperationStatus.PENDING)
    assert catalog.package_names() == {"u1_m1_001.tar"}
    assert catalog.package_names(["other"]) == set()
    assert catalog.package_named("u1_m1_001.tar") == package == catalog.package(package.id)


def test_two_planners_never_put_a_file_in_two_packages(
    catalog: Catalog, world: World, now: datetime
) -> None:
    catalog.register_raw_files(world.source.id, [spec("a"), spec("b")], now=now)
    files = catalog.unpackaged_files(world.source.id)
    [plan] = plan_packages(files, 100)
    [renamed] = plan_packages(files, 100, taken={plan.name})
    then = [NewOperation(K.CREATE_PACKAGE)]
    assert catalog.create_package(plan, source_location=world.source.id, now=now, then=then)
    # Same files under another name: lost, and nothing of it is left behind.
    assert (
        catalog.create_package(renamed, source_location=world.source.id, now=now, then=then) is None
    )
    # Same name: lost too.
    assert catalog.create_package(plan, source_location=world.source.id, now=now) is None
    assert [p.name for p in catalog.packages()] == [plan.name]
    assert len(catalog.operations()) == 1
    # Files of another location cannot be claimed through this one.
    assert catalog.create_package(renamed, source_location=world.buffer.id, now=now) is None


def test_package_states_change_compare_and_set(
    catalog: Catalog, world: World, now: datetime, at
) -> None:
    catalog.register_raw_files(world.source.id, [spec("a")], now=now)
    [plan] = plan_packages(catalog.unpackaged_files(world.source.id), 100)
    package = catalog.create_package(plan, source_location=world.source.id, now=now)
    assert package is not None
    assert catalog.record_package_tar(package.id, size=10240, sha256=OTHER_SHA, now=at(1))
    assert not catalog.record_package_tar(999, size=1, sha256=SHA, now=at(1))
    assert catalog.set_package_state(package.id, PackageEvent.ARCHIVED, now=at(2)) is None
    start = catalog.set_package_state(package.id, PackageEvent.START_TRANSFER, now=at(2))
    assert start is PackageState.TRANSFERRING
    failed = catalog.set_package_state(package.id, PackageEvent.FAILED, now=at(3), error="boom")
    assert failed is PackageState.FAILED
    stored = catalog.package(package.id)
    assert stored is not None
    assert (stored.state, stored.error, stored.size, stored.sha256) == (
        PackageState.FAILED,
        "boom",
        10240,
        OTHER_SHA,
    )
    assert [p.id for p in catalog.packages([PackageState.FAILED])] == [package.id]
    assert catalog.packages([PackageState.WAITING]) == []
    assert [p.id for p in catalog.packages(obs_unit="u1")] == [package.id]
    assert (
        catalog.set_package_state(package.id, PackageEvent.RETRY, now=at(4)) is PackageState.WAITING
    )
    assert catalog.package(package.id).error is None  # type: ignore[union-attr]


# --- physical copies ---------------------------------------------------------------------


def test_copies_are_recorded_idempotently_and_change_status_compare_and_set(
    catalog: Catalog, world: World, now: datetime, at
) -> None:
    catalog.register_raw_files(world.source.id, [spec("a")], now=now)
    raw = catalog.raw_file_at(world.source.id, "a")
    assert raw is not None
    copy = catalog.record_copy(
        world.source.id, "a", file_id=raw.id, sha256=SHA, verified_at=None, now=now
    )
    assert (copy.status, copy.file_id, copy.package_id, copy.verified_at) == (
        CopyStatus.PRESENT,
        raw.id,
        None,
        None,
    )
    again = catalog.record_copy(
        world.source.id, "a", file_id=raw.id, sha256=SHA, verified_at=at(1), now=at(1)
    )
    assert again.id == copy.id and again.verified_at == at(1)
    assert catalog.copies_of_file(raw.id) == [again]
    with pytest.raises(UsageError, match=f"holds a copy of file {raw.id}"):
        catalog.record_copy(
            world.source.id, "a", package_id=1, sha256=SHA, verified_at=None, now=now
        )

    schedule = CopyEvent.SCHEDULE_DELETION
    assert catalog.update_copy_status(copy.id, CopyEvent.START_DELETION, now=at(2)) is None
    assert (
        catalog.update_copy_status(copy.id, schedule, now=at(2), expected=CopyStatus.STAGED) is None
    )
    assert catalog.update_copy_status(copy.id, schedule, now=at(2)) is CopyStatus.DELETION_SCHEDULED
    assert catalog.update_copy_status(copy.id, CopyEvent.START_DELETION, now=at(3))
    assert catalog.update_copy_status(copy.id, CopyEvent.DELETED, now=at(4)) is CopyStatus.DELETED
    assert catalog.copies_at(world.source.id, statuses=[CopyStatus.PRESENT]) == []
    assert [c.id for c in catalog.copies_at(world.source.id)] == [copy.id]
    # Written again (a rerun): the copy comes back.
    back = catalog.record_copy(
        world.source.id, "a", file_id=raw.id, sha256=SHA, verified_at=at(5), now=at(5)
    )
    assert (back.id, back.status) == (copy.id, CopyStatus.PRESENT)


def test_package_copies_and_staged_copies(catalog: Catalog, world: World, now: datetime) -> None:
    catalog.register_raw_files(world.source.id, [spec("a")], now=now)
    [plan] = plan_packages(catalog.unpackaged_files(world.source.id), 100)
    package = catalog.create_package(plan, source_location=world.source.id, now=now)
    assert package is not None
    tar = catalog.record_copy(
        world.buffer.id, package.name, package_id=package.id, sha256=SHA, verified_at=now, now=now
    )
    staged = catalog.record_copy(
        world.archive.id,
        "u1/m1/a",
        file_id=package.members[0].file_id,
        status=CopyStatus.STAGED,
        sha256=SHA,
        verified_at=now,
        now=now,
    )
    assert catalog.copies_of_package(package.id) == [tar]
    assert staged.status is CopyStatus.STAGED
    with pytest.raises(ValueError, match="PRESENT or STAGED"):
        catalog.record_copy(
            world.buffer.id,
            "x",
            package_id=package.id,
            status=CopyStatus.DELETED,
            sha256=None,
            verified_at=None,
            now=now,
        )
    with pytest.raises(ValueError, match="one file or of one package"):
        catalog.record_copy(world.buffer.id, "x", sha256=None, verified_at=None, now=now)


# --- operations --------------------------------------------------------------------------


def transfers(catalog: Catalog, world: World, count: int, now: datetime) -> list[int]:
    """``count`` packages, each with a pending TRANSFER to the archive; their op ids."""
    specs = [spec(f"u{i:03d}/m1/a", unit=f"u{i:03d}") for i in range(count)]
    catalog.register_raw_files(world.source.id, specs, now=now)
    then = [
        NewOperation(
            K.TRANSFER, source_location=world.buffer.id, destination_location=world.archive.id
        )
    ]
    for plan in plan_packages(catalog.unpackaged_files(world.source.id), 100):
        assert catalog.create_package(plan, source_location=world.source.id, now=now, then=then)
    return [op.id for op in catalog.operations(kinds=[K.TRANSFER])]


def test_enqueueing_an_open_operation_again_finds_it(
    catalog: Catalog, world: World, now: datetime, at
) -> None:
    [op_id] = transfers(catalog, world, 1, now)
    operation = catalog.operation(op_id)
    assert operation is not None
    again = NewOperation(
        K.TRANSFER,
        package_id=operation.package_id,
        source_location=world.buffer.id,
        destination_location=world.archive.id,
    )
    assert catalog.enqueue_operation(again, now=at(1)) == op_id
    assert catalog.claim_operations(K.TRANSFER, "w1", now=at(1), lease_seconds=30, limit=5)
    assert catalog.enqueue_operation(again, now=at(2)) == op_id  # in progress: still open
    assert catalog.complete_operation(op_id, "w1", now=at(3))
    assert catalog.enqueue_operation(again, now=at(4)) != op_id  # done: a new one


def test_claims_take_pending_operations_of_one_kind_lowest_ids_first(
    catalog: Catalog, world: World, now: datetime, at
) -> None:
    ids = transfers(catalog, world, 5, now)
    assert catalog.claim_operations(K.ARCHIVE, "w1", now=now, lease_seconds=30, limit=5) == []
    assert catalog.claim_operations(K.TRANSFER, "w1", now=now, lease_seconds=30, limit=0) == []
    first = catalog.claim_operations(K.TRANSFER, "w1", now=at(1), lease_seconds=30, limit=2)
    assert [op.id for op in first] == ids[:2]
    op = first[0]
    assert (op.status, op.lease_owner, op.lease_expires_at, op.heartbeat_at) == (
        OperationStatus.IN_PROGRESS,
        "w1",
        at(31),
        at(1),
    )
    second = catalog.claim_operations(K.TRANSFER, "w2", now=at(1), lease_seconds=30, limit=10)
    assert [op.id for op in second] == ids[2:]
    assert catalog.claim_operations(K.TRANSFER, "w3", now=at(1), lease_seconds=30, limit=10) == []
    elsewhere = catalog.claim_operations(
        K.TRANSFER, "w4", now=at(1), lease_seconds=30, limit=10, location_ids=[world.source.id]
    )
    assert elsewhere == []


def test_two_owners_claiming_at_once_never_both_get_one(
    db_url: str, catalog: Catalog, world: World, now: datetime
) -> None:
    ids = transfers(catalog, world, 40, now)
    got: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def claim(owner: str) -> None:
        own = open_catalog(db_url)
        try:
            start.wait()
            while batch := own.claim_operations(
                K.TRANSFER, owner, now=now, lease_seconds=60, limit=3
            ):
                got[owner].extend(op.id for op in batch)
        finally:
            own.close()

    threads = [threading.Thread(target=claim, args=(owner,)) for owner in got]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not set(got["a"]) & set(got["b"])
    assert sorted(got["a"] + got["b"]) == ids
    held = {op.id: op.lease_owner for op in catalog.operations()}
    assert all(held[i] == owner for owner, mine in got.items() for i in mine)


def test_heartbeats_keep_a_lease_and_stale_leases_are_recovered(
    catalog: Catalog, world: World, now: datetime, at
) -> None:
    a, b = transfers(catalog, world, 2, now)
    catalog.claim_operations(K.TRANSFER, "w1", now=now, lease_seconds=10, limit=2)
    assert catalog.heartbeat_operations("w1", [a], now=at(8), lease_seconds=10) == {a}
    assert catalog.heartbeat_operations("w2", [a, b], now=at(8), lease_seconds=10) == set()
    assert catalog.heartbeat_operations("w1", [], now=at(8), lease_seconds=10) == set()
    assert catalog.recover_stale_operations(now=at(10)) == 0  # b expires at 10, not before
    assert catalog.recover_stale_operations(now=at(11)) == 1  # only b: a was renewed to 18
    stale = catalog.operation(b)
    assert stale is not None
    assert (stale.status, stale.lease_owner, stale.retries, stale.error_class) == (
        OperationStatus.PENDING,
        None,
        0,
        ErrorClass.LEASE_EXPIRED.value,
    )
    assert stale.error == "lease expired; held by w1"
    # The dead owner can no longer complete or renew it; the new claimer can.
    assert not catalog.complete_operation(b, "w1", now=at(12))
    assert catalog.heartbeat_operations("w1", [b], now=at(12), lease_seconds=10) == set()
    [again] = catalog.claim_operations(K.TRANSFER, "w2", now=at(12), lease_seconds=10, limit=5)
    assert again.id == b and catalog.complete_operation(b, "w2", now=at(13))
    assert catalog.operation(a).status is OperationStatus.IN_PROGRESS  # type: ignore[union-attr]


def test_failures_go_back_to_pending_then_fail_for_good(
    catalog: Catalog, world: World, now: datetime, at
) -> None:
    [op_id] = transfers(catalog, world, 1, now)
    statuses = []
    for run in range(4):
        [op] = catalog.claim_operations(K.TRANSFER, "w", now=at(run), lease_seconds=10, limit=1)
        decision = after_failure(op.retries, op.max_retries, ErrorClass.INTEGRITY)
        assert (
            catalog.fail_operation(
                op.id, "other", decision, error_class=ErrorClass.INTEGRITY, error="x", now=at(run)
            )
            is None
        )
        status = catalog.fail_operation(
            op.id,
            "w",
            decision,
            error_class=ErrorClass.INTEGRITY,
            error=f"bad member {run}",
            now=at(run),
        )
        statuses.append(status)
    assert statuses == [OperationStatus.PENDING] * 3 + [OperationStatus.FAILED]
    failed = catalog.operation(op_id)
    assert failed is not None
    assert (failed.retries, failed.error, failed.error_class, failed.lease_owner) == (
        3,
        "bad member 3",
        "integrity",
        None,
    )
    assert catalog.claim_operations(K.TRANSFER, "w", now=at(9), lease_seconds=10, limit=1) == []
    assert catalog.operations(statuses=[OperationStatus.FAILED]) == [failed]
    assert catalog.retry_operation(op_id, now=at(10))
    assert not catalog.retry_operation(op_id, now=at(10))  # pending now, not failed
    retried = catalog.operation(op_id)
    assert retried is not None and (retried.status, retried.retries) == (OperationStatus.PENDING, 0)


def test_a_failed_operation_enqueued_again_is_not_retried_twice(
    catalog: Catalog, world: World, now: datetime, at
) -> None:
    [op_id] = transfers(catalog, world, 1, now)
    [op] = catalog.claim_operations(K.TRANSFER, "w", now=now, lease_seconds=10, limit=1)
    permanent = after_failure(0, 3, ErrorClass.CLIENT)
    catalog.fail_operation(
        op_id, "w", permanent, error_class=ErrorClass.CLIENT, error="403", now=now
    )
    again = NewOperation(
        K.TRANSFER,
        package_id=op.package_id,
        source_location=world.buffer.id,
        destination_location=world.archive.id,
    )
    assert catalog.enqueue_operation(again, now=at(1)) != op_id
    assert not catalog.retry_operation(op_id, now=at(2))


def test_completing_enqueues_what_follows_and_moves_the_package_in_one_step(
    catalog: Catalog, world: World, now: datetime, at
) -> None:
    [op_id] = transfers(catalog, world, 1, now)
    [op] = catalog.claim_operations(K.TRANSFER, "w", now=now, lease_seconds=10, limit=1)
    assert op.package_id is not None
    unpack = NewOperation(
        K.UNPACK_VERIFY, package_id=op.package_id, destination_location=world.archive.id
    )
    # ARCHIVED is illegal from WAITING: nothing at all changes.
    with pytest.raises(IllegalTransitionError):
        catalog.complete_operation(
            op_id, "w", now=at(1), then=[unpack], package_event=PackageEvent.ARCHIVED
        )
    assert catalog.operation(op_id).status is OperationStatus.IN_PROGRESS  # type: ignore[union-attr]
    assert catalog.operations(kinds=[K.UNPACK_VERIFY]) == []
    assert not catalog.complete_operation(op_id, "intruder", now=at(1), then=[unpack])
    assert catalog.complete_operation(
        op_id, "w", now=at(2), then=[unpack], package_event=PackageEvent.START_TRANSFER
    )
    done = catalog.operation(op_id)
    assert done is not None and (done.status, done.lease_owner) == (OperationStatus.COMPLETED, None)
    [follow] = catalog.operations(kinds=[K.UNPACK_VERIFY])
    assert (follow.status, follow.package_id) == (OperationStatus.PENDING, op.package_id)
    assert catalog.package(op.package_id).state is PackageState.TRANSFERRING  # type: ignore[union-attr]
    assert not catalog.complete_operation(op_id, "w", now=at(3))  # once


def test_a_queue_worker_claims_only_operations_whose_home_is_its_location(
    catalog: Catalog, world: World, now: datetime, at
) -> None:
    ids = transfers(catalog, world, 3, now)
    # A transfer's home is its source (the buffer), not the archive it goes to.
    assert catalog.waiting_operation_work(now=now) == {(K.TRANSFER, world.buffer.id)}
    assert catalog.waiting_operation_work(now=now, kinds=[K.ARCHIVE]) == set()
    at_archive = catalog.claim_operations(
        K.TRANSFER, "w1", now=now, lease_seconds=30, limit=10, at_location=world.archive.id
    )
    assert at_archive == []
    at_buffer = catalog.claim_operations(
        K.TRANSFER, "w2", now=now, lease_seconds=30, limit=10, at_location=world.buffer.id
    )
    assert [op.id for op in at_buffer] == ids
    # All leased: no work waits until the leases expire.
    assert catalog.waiting_operation_work(now=at(1)) == set()
    assert catalog.waiting_operation_work(now=at(31)) == {(K.TRANSFER, world.buffer.id)}
