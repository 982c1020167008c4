"""Writes of one transfer: validator, segments, completion and failure, all lease-checked."""

from __future__ import annotations

import pytest

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import AttemptRecord, Completion, StateTotals
from skyhaul.errors import UsageError


def test_set_validator_and_size_need_the_lease(catalog: Catalog, specs, now) -> None:
    catalog.register(specs(1, sized=False), "/d", now=now)
    [record] = catalog.claim_batch("w", 1, now=now, lease_seconds=30)
    assert catalog.set_validator(record.id, "w", validator='"etag-1"', size=5000)
    updated = catalog.get(record.id)
    assert updated is not None and (updated.validator, updated.size) == ('"etag-1"', 5000)
    assert catalog.status_summary()[FileState.DOWNLOADING] == StateTotals(count=1, bytes=5000)
    assert catalog.expected_totals() == (1, 5000)
    # An unknown size keeps the one we have.
    assert catalog.set_validator(record.id, "w", validator=None, size=None)
    updated = catalog.get(record.id)
    assert updated is not None and (updated.validator, updated.size) == (None, 5000)
    assert not catalog.set_validator(record.id, "intruder", validator="x", size=1)
    assert catalog.status_summary() == catalog.recount_totals()


def test_segments_merge_and_reset(catalog: Catalog, specs, now) -> None:
    catalog.register(specs(2), "/d", now=now)
    a, b = (r.id for r in catalog.list_files())
    catalog.add_segment(a, 100, 200)
    catalog.add_segment(a, 0, 100)  # touching: merged
    catalog.add_segments(a, [(300, 400), (350, 500), (600, 700)])
    catalog.add_segment(b, 0, 10)
    assert catalog.segments(a) == [(0, 200), (300, 500), (600, 700)]
    catalog.add_segment(a, 150, 650)
    assert catalog.segments(a) == [(0, 700)]
    catalog.add_segment(a, 10, 20)  # already covered: nothing changes
    assert catalog.segments(a) == [(0, 700)]
    catalog.reset_segments(a)
    assert catalog.segments(a) == []
    assert catalog.segments(b) == [(0, 10)]


def test_bad_segments_are_refused(catalog: Catalog, specs, now) -> None:
    catalog.register(specs(1), "/d", now=now)
    [record] = catalog.list_files()
    with pytest.raises(ValueError, match="invalid byte range"):
        catalog.add_segment(record.id, 10, 10)
    with pytest.raises(UsageError):
        catalog.add_segment(424242, 0, 10)  # no such file (foreign key)


def test_complete_promotes_and_clears(catalog: Catalog, specs, now, at) -> None:
    catalog.register(specs(1, sized=False), "/d", now=now)
    [record] = catalog.claim_batch("w", 1, now=now, lease_seconds=30)
    catalog.add_segment(record.id, 0, 10)
    assert catalog.complete(record.id, "w", now=at(9), size=10, sha256="ab" * 32, validator='"v"')
    done = catalog.get(record.id)
    assert done is not None
    assert done.state is FileState.DOWNLOADED
    assert (done.size, done.sha256, done.validator, done.bytes_done) == (10, "ab" * 32, '"v"', 10)
    assert done.lease_owner is None and done.lease_expires_at is None
    assert done.downloaded_at == at(9)
    assert catalog.segments(record.id) == []
    assert catalog.status_summary()[FileState.DOWNLOADED] == StateTotals(count=1, bytes=10)
    assert catalog.expected_totals() == (0, 0)
    # Completing twice is a lost compare-and-set, not an error.
    assert not catalog.complete(record.id, "w", now=at(10), size=10, sha256="x", validator=None)


def test_lost_lease_makes_complete_and_fail_no_ops(catalog: Catalog, specs, now, at) -> None:
    catalog.register(specs(2), "/d", now=now)
    first, second = catalog.claim_batch("old", 2, now=now, lease_seconds=30)
    assert catalog.recover_stale(now=at(31)) == 2
    catalog.claim_batch("new", 2, now=at(31), lease_seconds=30)
    assert not catalog.complete(first.id, "old", now=at(32), size=1, sha256="s", validator=None)
    assert (
        catalog.fail(
            second.id,
            "old",
            now=at(32),
            error_class="server",
            message="late",
            next_attempt_at=None,
            permanent=True,
        )
        is None
    )
    assert catalog.complete_many([Completion(first.id, 1, "s")], "old", now=at(32)) == set()
    for record in catalog.list_files():
        assert record.state is FileState.DOWNLOADING and record.lease_owner == "new"
    assert catalog.status_summary() == catalog.recount_totals()


def test_complete_many_promotes_only_held_files(catalog: Catalog, specs, now, at) -> None:
    catalog.register(specs(5), "/d", now=now)
    mine = catalog.claim_batch("me", 3, now=now, lease_seconds=30)
    [theirs] = catalog.claim_batch("them", 1, now=now, lease_seconds=30)
    items = [Completion(r.id, size=100 + r.id, sha256=f"{r.id:064x}") for r in [*mine, theirs]]
    assert catalog.complete_many(items, "me", now=at(5)) == {r.id for r in mine}
    assert catalog.complete_many([], "me", now=at(5)) == set()
    for record in mine:
        done = catalog.get(record.id)
        assert done is not None and done.state is FileState.DOWNLOADED
        assert done.size == 100 + record.id and done.sha256 == f"{record.id:064x}"
    summary = catalog.status_summary()
    assert summary[FileState.DOWNLOADED] == StateTotals(3, sum(100 + r.id for r in mine))
    assert summary == catalog.recount_totals()


def test_fail_retryable_and_permanent(catalog: Catalog, specs, now, at) -> None:
    catalog.register(specs(2), "/d", now=now)
    a, b = catalog.claim_batch("w", 2, now=now, lease_seconds=30)
    assert (
        catalog.fail(
            a.id,
            "w",
            now=at(1),
            error_class=ErrorClass.THROTTLED.value,
            message="429",
            next_attempt_at=at(60),
            permanent=False,
        )
        is FileState.FAILED
    )
    assert (
        catalog.fail(
            b.id,
            "w",
            now=at(1),
            error_class=ErrorClass.CLIENT.value,
            message="404 Not Found",
            next_attempt_at=at(60),
            permanent=True,
        )
        is FileState.ABANDONED
    )
    failed, abandoned = catalog.get(a.id), catalog.get(b.id)
    assert failed is not None and abandoned is not None
    assert failed.error_class is ErrorClass.THROTTLED and failed.last_error == "429"
    assert failed.next_attempt_at == at(60) and failed.lease_owner is None
    assert abandoned.error_class is ErrorClass.CLIENT and abandoned.next_attempt_at is None
    assert catalog.expected_totals() == (1, a.size)
    assert catalog.status_summary() == catalog.recount_totals()


def test_record_attempts(catalog: Catalog, specs, now, at) -> None:
    catalog.register(specs(1), "/d", now=now)
    [record] = catalog.list_files()
    rows = [
        AttemptRecord(record.id, now, at(1), "failed", 10, ErrorClass.SERVER, "500"),
        AttemptRecord(record.id, at(2), at(3), "downloaded", 1),
    ]
    catalog.record_attempts(rows)
    catalog.record_attempts([])
    assert catalog.attempts(record.id) == rows
    with pytest.raises(UsageError):
        catalog.record_attempts([AttemptRecord(999_999, now, now, "failed")])


def test_complete_many_writes_the_attempts_in_the_same_transaction(
    catalog: Catalog, specs, now, at
) -> None:
    catalog.register(specs(3), "/d", now=now)
    a, b, c = catalog.claim_batch("me", 3, now=now, lease_seconds=30)
    done = [Completion(r.id, size=10, sha256=f"{r.id:064x}") for r in (a, b)]
    logged = [AttemptRecord(r.id, now, at(1), "downloaded", 10) for r in (a, b)]
    failed = AttemptRecord(c.id, now, at(1), "failed", 0, ErrorClass.SERVER, "500")
    assert catalog.complete_many(done, "me", now=at(1), attempts=[*logged, failed]) == {a.id, b.id}
    assert catalog.attempts(a.id) == [logged[0]] and catalog.attempts(c.id) == [failed]
    # One transaction: an attempt row that cannot be written undoes the completions too.
    again = catalog.claim_batch("me", 1, now=at(2), lease_seconds=30)
    assert again == []  # c is still held, a and b are DOWNLOADED
    bad = AttemptRecord(999_999, now, now, "failed")
    with pytest.raises(UsageError):
        catalog.complete_many([Completion(c.id, 10, "s")], "me", now=at(2), attempts=[bad])
    still = catalog.get(c.id)
    assert still is not None and still.state is FileState.DOWNLOADING
    assert catalog.status_summary() == catalog.recount_totals()
    # Attempts with no completion are written on their own.
    assert catalog.complete_many([], "me", now=at(3), attempts=[failed]) == set()
    assert catalog.attempts(c.id) == [failed, failed]
