"""Daily availability of a source over a date range: one row per day, and its summary.

Rules:
- Records sources: a day's availability is records written over expected records, read
  from the day's latest ledger row (:class:`~skyhaul.core.backfill.DayRun`).
- File sources: a day's availability is files downloaded over files discovered that day.
- A day never attempted (no ledger row, no file) has no count and no percent: it is
  ``NOT_RUN`` (records) or ``NO_FILES`` (files), never 0 %.
- A percent exists only when a count exists and something was expected (``expected > 0``).
- Pure: standard library only; the caller reads the ledger or the catalog and passes rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date

from skyhaul.core.backfill import DayRun, DayStatus, availability_pct

__all__ = [
    "DEFAULT_THRESHOLD",
    "FILES",
    "NOT_RUN",
    "NO_FILES",
    "STATUS_ORDER",
    "AvailabilityDay",
    "AvailabilitySummary",
    "from_day_runs",
    "from_file_counts",
    "summarize",
]

NOT_RUN = "NOT_RUN"
"""Status of a records day without a ledger row."""
FILES = "FILES"
"""Status of a file-source day with at least one discovered file."""
NO_FILES = "NO_FILES"
"""Status of a file-source day with no discovered file."""

STATUS_ORDER: tuple[str, ...] = (
    DayStatus.DOWNLOADED.value,
    FILES,
    DayStatus.SKIPPED_NO_DATA.value,
    NO_FILES,
    DayStatus.PENDING.value,
    DayStatus.FAILED.value,
    NOT_RUN,
)
"""Every status a row can have, in the order summaries and legends list them."""

DEFAULT_THRESHOLD = 90.0
"""Days below this percent are listed by :func:`summarize`."""


@dataclass(frozen=True, slots=True)
class AvailabilityDay:
    """Availability of one day.

    Parameters
    ----------
    day : date
        The UTC day.
    status : str
        A :class:`~skyhaul.core.backfill.DayStatus` value, :data:`NOT_RUN`, or for file
        sources :data:`FILES` / :data:`NO_FILES`.
    count : int or None
        Records written (records sources) or files downloaded (file sources); None when
        unknown (failed, interrupted or never run).
    expected : int or None
        Records a complete day holds, or files discovered that day; None when unknown.
    percent : float or None
        ``count / expected`` in percent; None without a count or with nothing expected.
    """

    day: date
    status: str
    count: int | None
    expected: int | None
    percent: float | None

    @property
    def is_file_day(self) -> bool:
        """Whether the row comes from a file source (:func:`from_file_counts`)."""
        return self.status in (FILES, NO_FILES)

    def as_json(self) -> dict[str, object]:
        """Return the row JSON-ready (the day in ISO 8601)."""
        return {
            "day": self.day.isoformat(),
            "status": self.status,
            "count": self.count,
            "expected": self.expected,
            "percent": self.percent,
        }


@dataclass(frozen=True, slots=True)
class AvailabilitySummary:
    """Totals of a range of :class:`AvailabilityDay` rows.

    Parameters
    ----------
    days : int
        Days in the range.
    days_with_data : int
        Days with a count above zero.
    total_count : int
        Sum of the counts of every day with a count.
    total_expected : int
        Sum of the expected counts of every day with an expected count.
    overall_percent : float or None
        Overall availability over the days with an expected count: their counts (a day
        expected but without a count, such as a FAILED one, counts 0) over
        ``total_expected``; None when nothing was expected.
    mean_percent, min_percent : float or None
        Mean and minimum of the daily percents (days with a percent only).
    threshold : float
        The percent below which a day is listed in ``below_threshold``.
    below_threshold : tuple of date
        Days with a percent below ``threshold``, in day order.
    status_counts : Mapping of str to int
        Days per status present, in :data:`STATUS_ORDER` (unknown statuses last).
    """

    days: int
    days_with_data: int
    total_count: int
    total_expected: int
    overall_percent: float | None
    mean_percent: float | None
    min_percent: float | None
    threshold: float
    below_threshold: tuple[date, ...]
    status_counts: Mapping[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        """Return the summary JSON-ready (days in ISO 8601)."""
        document = {f.name: getattr(self, f.name) for f in fields(self)}
        document["below_threshold"] = [day.isoformat() for day in self.below_threshold]
        document["status_counts"] = dict(self.status_counts)
        return document


def from_day_runs(days: Sequence[date], latest: Mapping[date, DayRun]) -> list[AvailabilityDay]:
    """Build a records source's rows from each day's latest ledger row.

    Parameters
    ----------
    days : sequence of date
        The range, in order.
    latest : Mapping of date to DayRun
        Each day's latest ledger row (days absent were never attempted).

    Returns
    -------
    list of AvailabilityDay
        In day order: DOWNLOADED → records, expected and percent; SKIPPED_NO_DATA → count 0
        (percent 0.0 when something was expected); FAILED and PENDING → no count and no
        percent (the expected count is kept when the ledger knows it); absent → NOT_RUN.
    """
    rows: list[AvailabilityDay] = []
    for day in days:
        run = latest.get(day)
        if run is None:
            rows.append(AvailabilityDay(day, NOT_RUN, None, None, None))
            continue
        expected = run.expected_records
        if run.status == DayStatus.DOWNLOADED:
            count = run.records
        elif run.status == DayStatus.SKIPPED_NO_DATA:
            count = 0
        else:  # FAILED, PENDING: what is on disk for the day is unknown
            count = None
        percent = None if count is None else availability_pct(count, expected)
        rows.append(AvailabilityDay(day, str(run.status), count, expected, percent))
    return rows


def from_file_counts(
    days: Sequence[date], counts: Mapping[date, tuple[int, int]]
) -> list[AvailabilityDay]:
    """Build a file source's rows from the catalog's per-day file counts.

    Parameters
    ----------
    days : sequence of date
        The range, in order.
    counts : Mapping of date to (int, int)
        ``(discovered, downloaded)`` files per day; days absent have no file.

    Returns
    -------
    list of AvailabilityDay
        In day order: a day with discovered files is FILES with ``count`` downloaded,
        ``expected`` discovered and their percent; any other day is NO_FILES without counts.
    """
    rows: list[AvailabilityDay] = []
    for day in days:
        discovered, downloaded = counts.get(day, (0, 0))
        if discovered <= 0:
            rows.append(AvailabilityDay(day, NO_FILES, None, None, None))
            continue
        percent = availability_pct(downloaded, discovered)
        rows.append(AvailabilityDay(day, FILES, downloaded, discovered, percent))
    return rows


def summarize(
    rows: Sequence[AvailabilityDay], *, threshold: float = DEFAULT_THRESHOLD
) -> AvailabilitySummary:
    """Summarize a range of rows.

    Parameters
    ----------
    rows : sequence of AvailabilityDay
        The range, in order (may be empty).
    threshold : float
        Days with a percent below this are listed.

    Returns
    -------
    AvailabilitySummary
        See its fields; every percent is None when no day supports it.
    """
    expected_rows = [row for row in rows if row.expected is not None]
    total_expected = sum(row.expected or 0 for row in expected_rows)
    covered = sum(row.count or 0 for row in expected_rows)
    percents = [row.percent for row in rows if row.percent is not None]
    return AvailabilitySummary(
        days=len(rows),
        days_with_data=sum(1 for row in rows if row.count),
        total_count=sum(row.count or 0 for row in rows),
        total_expected=total_expected,
        overall_percent=availability_pct(covered, total_expected),
        mean_percent=sum(percents) / len(percents) if percents else None,
        min_percent=min(percents) if percents else None,
        threshold=threshold,
        below_threshold=tuple(
            row.day for row in rows if row.percent is not None and row.percent < threshold
        ),
        status_counts=dict(sorted(Counter(row.status for row in rows).items(), key=_rank)),
    )


def _rank(item: tuple[str, int]) -> int:
    status = item[0]
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)
