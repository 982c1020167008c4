"""Day claims of backfill jobs run by workers: compare-and-set under a lease, on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.catalog.day_claims import DayClaimCounts
from skyhaul.core.jobs import JobKind

At = Callable[[float], datetime]
D1, D2, D3 = date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)


def _job(catalog: Catalog, now: datetime) -> int:
    job_id = catalog.create_job(JobKind.BACKFILL, {}, now=now)
    catalog.plan_day_claims(
        job_id, [(D1, "run", False), (D2, "skip_existing", True), (D3, "run", False)]
    )
    return job_id


def test_days_are_claimed_once_in_order_until_none_is_left(catalog: Catalog, now: datetime) -> None:
    job = _job(catalog, now)
    claim = lambda owner: catalog.claim_day(  # noqa: E731
        job, owner, now=now, lease_seconds=30, max_attempts=3
    )
    assert claim("a") == D1
    assert claim("b") == D3, "a held day is not handed out again; a done day never"
    assert claim("c") is None
    assert catalog.day_claim_counts(job, now=now, max_attempts=3) == DayClaimCounts(held=2, done=1)
    assert not catalog.settle_day(job, D1, "b", done=True), "only the owner settles"
    assert catalog.settle_day(job, D1, "a", done=True)
    assert catalog.settle_day(job, D3, "b", done=False)  # released: claimable again
    assert claim("c") == D3
    assert catalog.settle_day(job, D3, "c", done=True)
    counts = catalog.day_claim_counts(job, now=now, max_attempts=3)
    assert counts == DayClaimCounts(done=3) and counts.settled
    assert catalog.day_claim_actions(job) == {D1: "run", D2: "skip_existing", D3: "run"}


def test_an_expired_lease_is_taken_over_and_the_dead_owner_loses_the_day(
    catalog: Catalog, now: datetime, at: At
) -> None:
    job = _job(catalog, now)
    assert catalog.claim_day(job, "dead", now=now, lease_seconds=10, max_attempts=3) == D1
    assert catalog.claim_day(job, "late", now=at(5), lease_seconds=10, max_attempts=3) == D3
    assert catalog.renew_day(job, D1, "dead", now=at(5), lease_seconds=10)  # lives to 15
    assert catalog.claim_day(job, "live", now=at(12), lease_seconds=10, max_attempts=3) is None
    counts = catalog.day_claim_counts(job, now=at(16), max_attempts=3)
    assert counts == DayClaimCounts(waiting=2, done=1)
    assert catalog.claim_day(job, "live", now=at(16), lease_seconds=10, max_attempts=3) == D1
    assert not catalog.renew_day(job, D1, "dead", now=at(17), lease_seconds=10)
    assert not catalog.settle_day(job, D1, "dead", done=True)


def test_a_day_its_workers_died_on_too_often_is_abandoned(
    catalog: Catalog, now: datetime, at: At
) -> None:
    job = _job(catalog, now)
    for i in range(2):
        assert (
            catalog.claim_day(job, f"w{i}", now=at(20 * i), lease_seconds=10, max_attempts=2) == D1
        )
    assert catalog.claim_day(job, "w2", now=at(40), lease_seconds=10, max_attempts=2) == D3
    assert catalog.claim_day(job, "w3", now=at(60), lease_seconds=10, max_attempts=2) == D3
    counts = catalog.day_claim_counts(job, now=at(60), max_attempts=2)
    assert counts == DayClaimCounts(held=1, abandoned=1, done=1)


def test_concurrent_claimers_never_share_a_day(catalog: Catalog, now: datetime) -> None:
    job = catalog.create_job(JobKind.BACKFILL, {}, now=now)
    days = [date(2024, 2, d) for d in range(1, 29)]
    catalog.plan_day_claims(job, [(d, "run", False) for d in days])
    got: dict[str, list[date]] = {}

    def claimer(owner: str) -> None:
        mine = got.setdefault(owner, [])
        while day := catalog.claim_day(job, owner, now=now, lease_seconds=60, max_attempts=3):
            mine.append(day)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    claimed = [d for mine in got.values() for d in mine]
    assert sorted(claimed) == days, "every day claimed exactly once"
