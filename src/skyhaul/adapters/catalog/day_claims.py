"""Day claims: which worker fetches which day of a backfill job, until when.

Rules:
- A backfill job run by workers has one row per planned day (``plan``), with the day's
  action; days that need no work are written done. The ledger stays append-only: a day's
  outcome is its ledger row, its claim only says who may fetch it.
- A day is claimable when it is not done and nobody holds it, or its lease ended before
  ``now``. ``claim`` is a compare-and-set UPDATE on exactly that condition: of two
  claimers of one day, one updates a row and the other none (PostgreSQL re-reads the row
  after the first commits; SQLite serialises writers), so no day is fetched twice at once.
- Only the owner renews, settles or releases its day; a call that lost its lease returns
  False. A day claimed ``max_attempts`` times and never settled (its workers died on it)
  is not claimed again: it counts as failed for good (:attr:`DayClaimCounts.abandoned`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from skyhaul.adapters.catalog.database import Database
from skyhaul.adapters.catalog.jobs_schema import day_claims

__all__ = ["DayClaimCounts", "DayClaimsCatalog"]

_c = day_claims.c
#: How many candidate days one claim looks at (the first free ones, in day order).
_CANDIDATES = 8


@dataclass(frozen=True, slots=True)
class DayClaimCounts:
    """A backfill job's planned days by where they stand.

    ``waiting``: not done, free or with an expired lease; ``held``: under a live lease;
    ``abandoned``: not done but claimed too often to be claimed again; ``done``: settled.
    """

    waiting: int = 0
    held: int = 0
    abandoned: int = 0
    done: int = 0

    @property
    def settled(self) -> bool:
        """Whether no day is left to fetch or in flight."""
        return not (self.waiting or self.held)


def _claimable(job_id: int, now: datetime, max_attempts: int) -> ColumnElement[bool]:
    free = or_(_c.owner.is_(None), _c.lease_until <= now)
    return and_(_c.job_id == job_id, _c.done.is_(False), _c.attempts < max_attempts, free)


def _held_by(job_id: int, day: date, owner: str) -> ColumnElement[bool]:
    return and_(_c.job_id == job_id, _c.day == day, _c.owner == owner, _c.done.is_(False))


def plan(c: Connection, job_id: int, days: Sequence[tuple[date, str, bool]]) -> None:
    """Write the planned days of ``job_id``: (day, action, done)."""
    rows = [
        {"job_id": job_id, "day": day, "action": action, "done": done, "attempts": 0}
        for day, action, done in days
    ]
    if rows:
        c.execute(insert(day_claims), rows)


def claim(
    c: Connection, job_id: int, owner: str, now: datetime, lease: float, max_attempts: int
) -> date | None:
    """Claim the first claimable day of ``job_id`` for ``owner``; None when there is none."""
    where = _claimable(job_id, now, max_attempts)
    query = select(_c.day).where(where).order_by(_c.day).limit(_CANDIDATES)
    candidates: list[date] = list(c.scalars(query))
    for day in candidates:
        taken = c.execute(
            update(day_claims)
            .where(where, _c.day == day)
            .values(
                owner=owner,
                lease_until=now + timedelta(seconds=lease),
                attempts=_c.attempts + 1,
            )
        )
        if taken.rowcount == 1:
            return day
    return None


def renew(c: Connection, job_id: int, day: date, owner: str, now: datetime, lease: float) -> bool:
    """Push ``owner``'s lease on ``day`` to ``now + lease``; False when it is not held."""
    result = c.execute(
        update(day_claims)
        .where(_held_by(job_id, day, owner))
        .values(lease_until=now + timedelta(seconds=lease))
    )
    return result.rowcount == 1


def settle(c: Connection, job_id: int, day: date, owner: str, *, done: bool) -> bool:
    """End ``owner``'s claim on ``day``: done, or released to be claimed again."""
    result = c.execute(
        update(day_claims)
        .where(_held_by(job_id, day, owner))
        .values(done=done, owner=None, lease_until=None)
    )
    return result.rowcount == 1


def counts(c: Connection, job_id: int, now: datetime, max_attempts: int) -> DayClaimCounts:
    """Count ``job_id``'s days by where they stand at ``now``."""
    stand = {"waiting": 0, "held": 0, "abandoned": 0, "done": 0}
    # A job has a row per day (hundreds): counted here, the same on both backends.
    query = select(_c.done, _c.owner, _c.lease_until, _c.attempts).where(_c.job_id == job_id)
    for done, owner, until, tries in c.execute(query):
        held = owner is not None and until is not None and until > now
        spent = tries >= max_attempts
        key = "done" if done else "held" if held else "abandoned" if spent else "waiting"
        stand[key] += 1
    return DayClaimCounts(**stand)


def actions(c: Connection, job_id: int) -> dict[date, str]:
    """The planned days of ``job_id`` and their actions, in day order."""
    query = select(_c.day, _c.action).where(_c.job_id == job_id).order_by(_c.day)
    return {day: action for day, action in c.execute(query)}


class DayClaimsCatalog:
    """The day claims section of :class:`~skyhaul.adapters.catalog.Catalog`."""

    _db: Database

    def plan_day_claims(self, job_id: int, days: Sequence[tuple[date, str, bool]]) -> None:
        """Write the planned days of backfill job ``job_id``: (day, action, done)."""
        self._db.write(lambda c: plan(c, job_id, days))

    def claim_day(
        self, job_id: int, owner: str, *, now: datetime, lease_seconds: float, max_attempts: int
    ) -> date | None:
        """Claim the first claimable day of ``job_id`` (compare-and-set); None: none left."""
        return self._db.write(lambda c: claim(c, job_id, owner, now, lease_seconds, max_attempts))

    def renew_day(
        self, job_id: int, day: date, owner: str, *, now: datetime, lease_seconds: float
    ) -> bool:
        """Renew ``owner``'s lease on ``day``; False when it no longer holds it."""
        return self._db.write(lambda c: renew(c, job_id, day, owner, now, lease_seconds))

    def settle_day(self, job_id: int, day: date, owner: str, *, done: bool) -> bool:
        """Mark ``owner``'s day done, or release it (``done`` False); False if not held."""
        return self._db.write(lambda c: settle(c, job_id, day, owner, done=done))

    def day_claim_counts(self, job_id: int, *, now: datetime, max_attempts: int) -> DayClaimCounts:
        """Count the planned days of ``job_id`` by where they stand at ``now``."""
        return self._db.read(lambda c: counts(c, job_id, now, max_attempts))

    def day_claim_actions(self, job_id: int) -> dict[date, str]:
        """Return the planned days of ``job_id`` with their actions, in day order."""
        return self._db.read(lambda c: actions(c, job_id))
