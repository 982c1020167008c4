"""Per-day backfill: day states, the ledger row, the resume decision table and the plan.

Rules:
- A backfill works one UTC day at a time; a day's window is ``[00:00, next 00:00)``, so
  the calendar's last day (9999-12-31) has none (:data:`~skyhaul.core.window.LAST_DAY`).
- The ledger is append-only: one :class:`DayRun` per state change of a day. Only the
  latest row of a day counts when deciding what to do with it.
- The decision table (:func:`decide`) is total: every (latest status, artifact check,
  ``retry_failed``) combination has one answer, tested exhaustively.
- ``limit_days`` counts only the days that need work (:attr:`Action.needs_work`), from the
  first such day; days before the limit is reached that need no work stay in the plan.
- Pure: standard library only; the caller checks artifacts on disk and passes the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from skyhaul.core.window import TimeWindow

__all__ = [
    "Action",
    "ArtifactCheck",
    "DayPlan",
    "DayRun",
    "DayStatus",
    "availability_pct",
    "chunk_windows",
    "day_window",
    "decide",
    "iter_days",
    "plan_days",
]


class DayStatus(StrEnum):
    """Where one day of a backfill stands (one ledger row per change)."""

    PENDING = "PENDING"
    """Started and not finished: interrupted if it is still the latest row."""
    DOWNLOADED = "DOWNLOADED"
    """The day's artifact was written, verified and renamed into place."""
    SKIPPED_NO_DATA = "SKIPPED_NO_DATA"
    """The archive answered every request and had no record for the day (terminal)."""
    FAILED = "FAILED"
    """A request, a payload or the output failed; retried only with ``--retry-failed``."""


class ArtifactCheck(StrEnum):
    """What the file a DOWNLOADED row names looks like on disk now."""

    INTACT = "intact"
    """Present with the size and sha256 the ledger recorded."""
    MISSING = "missing"
    CHANGED = "changed"
    """Present, but its size or sha256 differs from the ledger's."""


class Action(StrEnum):
    """What a backfill does with one day."""

    RUN = "run"
    SKIP_EXISTING = "skip_existing"
    SKIP_NO_DATA = "skip_no_data"
    SKIP_FAILED = "skip_failed"

    @property
    def needs_work(self) -> bool:
        """Whether the day will be fetched (the days ``--limit-days`` counts)."""
        return self is Action.RUN


@dataclass(frozen=True, slots=True)
class DayRun:
    """One ledger row: a state change of one day of one source's backfill.

    Parameters
    ----------
    run_id : str
        The backfill invocation that wrote it.
    source : str
        The source's name.
    day : date
        The UTC day.
    status : DayStatus
        The day's new state.
    window_start, window_end : datetime
        The day's window ``[start, end)`` (UTC).
    started_at : datetime
        When the run started working on the day.
    finished_at : datetime or None
        When it reached ``status`` (None for PENDING).
    records, expected_records : int or None
        Records written, and the records a complete day holds.
    availability : float or None
        ``records / expected_records`` in percent.
    seconds : float or None
        Time spent on the day.
    size : int or None
        Bytes of the artifact.
    path : str or None
        The artifact (absolute).
    sha256 : str or None
        The artifact's sha256 (hex), to tell an intact artifact from a changed one.
    output_format : str
        ``csv``, ``json`` or ``parquet``.
    error_type, error_message : str or None
        Why a FAILED (or SKIPPED_NO_DATA) day ended so; messages never hold secrets.
    requests, throttled : int
        Requests made for the day, and how many were refused (429 or 503).
    """

    run_id: str
    source: str
    day: date
    status: DayStatus
    window_start: datetime
    window_end: datetime
    started_at: datetime
    finished_at: datetime | None = None
    records: int | None = None
    expected_records: int | None = None
    availability: float | None = None
    seconds: float | None = None
    size: int | None = None
    path: str | None = None
    sha256: str | None = None
    output_format: str = "csv"
    error_type: str | None = None
    error_message: str | None = None
    requests: int = 0
    throttled: int = 0


@dataclass(frozen=True, slots=True)
class DayPlan:
    """One day of a plan: the action, and the latest ledger row it was decided from."""

    day: date
    action: Action
    prior: DayRun | None


def decide(prior: DayRun | None, artifact: ArtifactCheck | None, retry_failed: bool) -> Action:
    """Decide what to do with a day from its latest ledger row.

    Parameters
    ----------
    prior : DayRun or None
        The day's latest ledger row; None when the day was never attempted.
    artifact : ArtifactCheck or None
        The state of the artifact a DOWNLOADED row names (ignored for other rows; None
        counts as MISSING).
    retry_failed : bool
        Whether FAILED days run again.

    Returns
    -------
    Action
        none → run; DOWNLOADED with the artifact intact → skip; DOWNLOADED with it
        missing or changed → run; SKIPPED_NO_DATA → skip; FAILED → skip unless
        ``retry_failed``; PENDING (interrupted) → run.
    """
    if prior is None:
        return Action.RUN
    status = prior.status
    if status is DayStatus.DOWNLOADED:
        return Action.SKIP_EXISTING if artifact is ArtifactCheck.INTACT else Action.RUN
    if status is DayStatus.SKIPPED_NO_DATA:
        return Action.SKIP_NO_DATA
    if status is DayStatus.FAILED:
        return Action.RUN if retry_failed else Action.SKIP_FAILED
    return Action.RUN  # PENDING: the run that wrote it was interrupted


def plan_days(
    days: Sequence[date],
    latest: Mapping[date, DayRun],
    check_artifact: Callable[[DayRun], ArtifactCheck],
    *,
    retry_failed: bool = False,
    limit_days: int | None = None,
) -> list[DayPlan]:
    """Plan the days in order, applying the decision table and ``limit_days``.

    Parameters
    ----------
    days : sequence of date
        The inclusive range, in order.
    latest : Mapping of date to DayRun
        Each day's latest ledger row (days absent were never attempted).
    check_artifact : callable
        Looks at the artifact of a DOWNLOADED row (called for those rows only).
    retry_failed : bool
        Whether FAILED days run again.
    limit_days : int or None
        Keep at most this many days that need work; the plan stops before the next one.

    Returns
    -------
    list of DayPlan
        In day order.
    """
    if limit_days is not None and limit_days < 0:
        raise ValueError(f"limit_days must be >= 0, got {limit_days}")
    plans: list[DayPlan] = []
    working = 0
    for day in days:
        prior = latest.get(day)
        check = (
            check_artifact(prior)
            if prior is not None and prior.status is DayStatus.DOWNLOADED
            else None
        )
        action = decide(prior, check, retry_failed)
        if action.needs_work:
            if limit_days is not None and working >= limit_days:
                break
            working += 1
        plans.append(DayPlan(day, action, prior))
    return plans


def iter_days(first: date, last: date) -> Iterator[date]:
    """Yield the days from ``first`` to ``last`` inclusive; ``last`` before ``first`` raises."""
    if last < first:
        raise ValueError(f"end date {last.isoformat()} is before start date {first.isoformat()}")
    day = first
    while True:
        yield day
        if day == last:  # before stepping: the step after date.max overflows
            return
        day += timedelta(days=1)


def day_window(day: date) -> tuple[datetime, datetime]:
    """Return the day's UTC window ``[00:00, next day 00:00)``.

    Raises
    ------
    ValueError
        For the calendar's last day, whose end cannot be held.
    """
    window = TimeWindow.day(day)
    return window.start, window.end


def chunk_windows(
    start: datetime, end: datetime, length: timedelta
) -> list[tuple[datetime, datetime]]:
    """Split ``[start, end)`` into consecutive windows of ``length`` (the last may be shorter)."""
    if length <= timedelta(0):
        raise ValueError(f"chunk length must be positive, got {length}")
    windows: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor < end:
        stop = min(end, cursor + length)
        windows.append((cursor, stop))
        cursor = stop
    return windows


def availability_pct(count: int, expected: int | None) -> float | None:
    """Return ``count / expected`` in percent; None when nothing is expected."""
    if not expected:
        return None
    return 100.0 * count / expected
