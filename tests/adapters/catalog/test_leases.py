"""Claims and leases: compare-and-set claims, heartbeats, stale recovery, release."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import Selection


def test_claim_takes_due_files_lowest_id_first(catalog: Catalog, specs, now) -> None:
    catalog.register(specs(5), "/d", now=now)
    batch = catalog.claim_batch("w1", 3, now=now, lease_seconds=30)
    assert [r.path for r in batch] == [s.path for s in specs(3)]
    for record in batch:
        assert record.state is FileState.DOWNLOADING
        assert record.lease_owner == "w1"
        assert record.lease_expires_at == now + timedelta(seconds=30)
        assert record.attempts == 1
        assert catalog.get(record.id) == record
    rest = catalog.claim_batch("w2", 10, now=now, lease_seconds=30)
    assert [r.path for r in rest] == [s.path for s in specs(2, start=3)]
    assert catalog.claim_batch("w3", 10, now=now, lease_seconds=30) == []
    assert catalog.claim_batch("w3", 0, now=now, lease_seconds=30) == []


def test_failed_file_is_claimed_only_when_due(catalog: Catalog, specs, now, at) -> None:
    catalog.register(specs(1), "/d", now=now)
    [record] = catalog.claim_batch("w", 1, now=now, lease_seconds=30)
    state = catalog.fail(
        record.id,
        "w",
        now=now,
        error_class="server",
        message="503 Service Unavailable",
        next_attempt_at=at(100),
        permanent=False,
    )
    assert state is FileState.FAILED
    failed = catalog.get(record.id)
    assert failed is not None and failed.next_attempt_at == at(100) and failed.lease_owner is None
    assert catalog.next_attempt_due() == at(100)
    assert catalog.claim_batch("w", 1, now=at(99), lease_seconds=30) == []
    [again] = catalog.claim_batch("w", 1, now=at(100), lease_seconds=30)
    assert again.id == record.id and again.attempts == 2 and again.next_attempt_at is None
    assert catalog.next_attempt_due() is None


def test_failed_without_a_time_is_due_at_once(catalog: Catalog, specs, now) -> None:
    catalog.register(specs(1), "/d", now=now)
    [record] = catalog.claim_batch("w", 1, now=now, lease_seconds=30)
    catalog.fail(
        record.id,
        "w",
        now=now,
        error_class="connect",
        message="reset",
        next_attempt_at=None,
        permanent=False,
    )
    assert [r.id for r in catalog.claim_batch("w", 1, now=now, lease_seconds=30)] == [record.id]


def test_claim_honours_selection(catalog: Catalog, specs, now) -> None:
    catalog.register(
        specs(4, instrument="EUV") + specs(4, start=4, instrument="XRS"), "/d", now=now
    )
    batch = catalog.claim_batch(
        "w", 10, now=now, lease_seconds=30, selection=Selection(instrument="XRS")
    )
    assert [r.path for r in batch] == [s.path for s in specs(4, start=4)]
    none_failed = Selection(states=frozenset({FileState.FAILED}))
    assert catalog.claim_batch("w", 10, now=now, lease_seconds=30, selection=none_failed) == []


def _claim_all(catalog: Catalog, owner: str, start: threading.Barrier, got: list[int], now) -> None:
    start.wait()
    while batch := catalog.claim_batch(owner, 7, now=now, lease_seconds=60):
        got.extend(record.id for record in batch)


def test_concurrent_claimers_never_share_a_file(catalog: Catalog, specs, now) -> None:
    catalog.register(specs(600), "/d", now=now)
    threads, results = 6, [[] for _ in range(6)]
    barrier = threading.Barrier(threads)
    workers = [
        threading.Thread(target=_claim_all, args=(catalog, f"w{i}", barrier, results[i], now))
        for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    claimed = Counter(file_id for got in results for file_id in got)
    assert len(claimed) == 600 and set(claimed.values()) == {1}
    assert catalog.status_summary()[FileState.DOWNLOADING].count == 600
    assert catalog.status_summary() == catalog.recount_totals()


def test_two_catalog_objects_on_one_database_never_share(db_url: str, specs, now) -> None:
    first, second = open_catalog(db_url), open_catalog(db_url)
    try:
        first.register(specs(300), "/d", now=now)
        barrier = threading.Barrier(2)
        got_a: list[int] = []
        got_b: list[int] = []
        workers = [
            threading.Thread(target=_claim_all, args=(first, "a", barrier, got_a, now)),
            threading.Thread(target=_claim_all, args=(second, "b", barrier, got_b, now)),
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert not set(got_a) & set(got_b)
        assert len(got_a) + len(got_b) == 300
        owners = Counter(r.lease_owner for r in first.list_files())
        assert owners == Counter(a=len(got_a), b=len(got_b))
    finally:
        first.close()
        second.close()


def test_renew_returns_what_is_still_held(catalog: Catalog, specs, now, at) -> None:
    catalog.register(specs(3), "/d", now=now)
    mine = catalog.claim_batch("me", 2, now=now, lease_seconds=30)
    [theirs] = catalog.claim_batch("them", 1, now=now, lease_seconds=30)
    ids = [r.id for r in mine]
    held = catalog.renew_leases(
        "me",
        [*ids, theirs.id, 9999],
        now=at(20),
        lease_seconds=30,
        bytes_done={ids[0]: 1234, theirs.id: 5},
    )
    assert held == set(ids)
    renewed = catalog.get(ids[0])
    assert renewed is not None
    assert renewed.lease_expires_at == at(50) and renewed.bytes_done == 1234
    other = catalog.get(theirs.id)
    assert other is not None and other.bytes_done == 0 and other.lease_expires_at == at(30)
    assert catalog.renew_leases("me", [], now=at(20), lease_seconds=30) == set()


def test_recover_stale_takes_only_expired_leases(catalog: Catalog, specs, now, at) -> None:
    catalog.register(specs(3, instrument="EUV"), "/d", now=now)
    slow, dead, fresh = catalog.claim_batch("w", 3, now=now, lease_seconds=30)
    # The slow download keeps renewing; the dead one stopped; the fresh one is young.
    assert catalog.renew_leases("w", [slow.id], now=at(25), lease_seconds=30) == {slow.id}
    catalog.renew_leases("w", [fresh.id], now=at(35), lease_seconds=30, bytes_done={fresh.id: 9})
    catalog.renew_leases("w", [slow.id], now=at(40), lease_seconds=30, bytes_done={slow.id: 7})
    assert catalog.recover_stale(now=at(45), instrument="XRS") == 0
    assert catalog.recover_stale(now=at(45)) == 1
    expired = catalog.get(dead.id)
    assert expired is not None
    assert expired.state is FileState.FAILED
    assert expired.error_class == "lease_expired"
    assert expired.lease_owner is None and expired.next_attempt_at == at(45)
    assert expired.last_error == "lease expired; held by w"
    for alive in (slow, fresh):
        record = catalog.get(alive.id)
        assert record is not None and record.state is FileState.DOWNLOADING
    assert catalog.recover_stale(now=at(45)) == 0
    # The expired file is due again at once; the dead worker cannot renew it any more.
    assert catalog.renew_leases("w", [dead.id], now=at(46), lease_seconds=30) == set()
    assert [r.id for r in catalog.claim_batch("x", 5, now=at(46), lease_seconds=30)] == [dead.id]
    assert catalog.status_summary() == catalog.recount_totals()


def test_recover_stale_records_an_expired_attempt(catalog: Catalog, specs, now, at) -> None:
    catalog.register(specs(1), "/d", now=now)
    [record] = catalog.claim_batch("w", 1, now=at(5), lease_seconds=30)
    catalog.renew_leases("w", [record.id], now=at(10), lease_seconds=30, bytes_done={record.id: 42})
    assert catalog.recover_stale(now=at(100)) == 1
    [attempt] = catalog.attempts(record.id)
    assert attempt.outcome == "expired" and attempt.bytes == 42
    assert attempt.started_at == at(5) and attempt.finished_at == at(100)
    assert attempt.error_class == "lease_expired"
    assert attempt.message is not None and "lease of w expired" in attempt.message


def test_release_gives_files_back_without_counting(catalog: Catalog, specs, now, at) -> None:
    catalog.register(specs(3), "/d", now=now)
    batch = catalog.claim_batch("w", 3, now=now, lease_seconds=30)
    catalog.add_segment(batch[0].id, 0, 100)
    catalog.recover_stale(now=at(31))  # all three expire ...
    [taken] = catalog.claim_batch("other", 1, now=at(31), lease_seconds=30)  # ... one moves on
    assert catalog.release([r.id for r in batch], "w", now=at(32)) == 0
    fresh = catalog.claim_batch("w", 5, now=at(40), lease_seconds=30)
    assert [r.id for r in fresh] == [r.id for r in batch[1:]]
    assert catalog.release([r.id for r in fresh] + [taken.id], "w", now=at(41)) == 2
    for record in fresh:
        released = catalog.get(record.id)
        assert released is not None
        assert released.state is FileState.DISCOVERED and released.lease_owner is None
        assert released.attempts == 1  # the first, expired attempt still counts
        assert released.next_attempt_at is None
    assert catalog.segments(taken.id) == [(0, 100)]
    assert catalog.release([], "w", now=at(41)) == 0
    assert catalog.status_summary() == catalog.recount_totals()
