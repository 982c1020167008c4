"""What a viewer sees of the backfill ledger: the sources it can show, and the days of one
source over a range with their availability.

Rules:
- The sources are those the ledger has rows of, and the configuration's records sources
  (one never run yet shows every day NOT_RUN).
- A day shows its latest ledger row (what the next backfill decides from) as the ledger
  holds it, and ``attempt``: how many runs started the day (its PENDING rows). A day
  without a row is NOT_RUN, every other value None.
- Availability is :mod:`skyhaul.core.availability`'s, per day and summarized, as
  ``skyhaul report availability`` computes it for a records source.
- A range is read as ``skyhaul ledger show`` reads it, and holds at most
  :data:`MAX_DAYS` days: a longer one is refused, not cut.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.config import load_config
from skyhaul.adapters.sources.records_api import RECORDS_API
from skyhaul.core.availability import NOT_RUN, from_day_runs, summarize
from skyhaul.core.backfill import DayRun, DayStatus, iter_days
from skyhaul.core.window import parse_day, parse_day_range

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "backfill_sources", "day_range", "ledger_document"]

#: Days a range holds at most (ten years).
MAX_DAYS = 3660
#: Days shown when no first day is given (ending on the last day).
DEFAULT_DAYS = 30

_RENAMED = {"status": "state", "expected_records": "expected", "error_message": "error"}
_FIELDS = tuple(f.name for f in dataclasses.fields(DayRun) if f.name not in ("source", "day"))


def backfill_sources(catalog: Catalog, config: Path | None) -> list[str]:
    """Return the sources with ledger rows and the records sources of ``config``, sorted.

    Raises
    ------
    ConfigError
        The configuration named cannot be read.
    """
    configured = load_config(config).sources.values()
    records = {entry.name for entry in configured if entry.type == RECORDS_API}
    return sorted(records | set(catalog.ledger_sources()))


def day_range(first: str | None, last: str | None, *, today: date) -> tuple[date, date]:
    """Read the range ``first`` to ``last`` (both included) as typed.

    ``last`` defaults to ``today``, ``first`` to :data:`DEFAULT_DAYS` days ending on ``last``.

    Raises
    ------
    UsageError
        A day that does not read, ``last`` before ``first``, or more than
        :data:`MAX_DAYS` days.
    """
    last_text = last or today.isoformat()
    if not first:
        end = parse_day(last_text, "last")
        first = (end - timedelta(days=min(DEFAULT_DAYS - 1, (end - date.min).days))).isoformat()
    return parse_day_range(first, last_text, names=("first", "last"), max_days=MAX_DAYS)


def ledger_document(catalog: Catalog, source: str, first: date, last: date) -> dict[str, Any]:
    """Return the days of ``source`` from ``first`` to ``last`` and their availability.

    Returns
    -------
    dict
        ``{"source", "first", "last", "days": [day], "availability": {summary...,
        "days": [per-day availability]}}``; a day is ``{"day", "state", "records",
        "expected", "availability", "attempt", "error", ...}`` with every field of its
        latest ledger row.
    """
    latest: dict[date, DayRun] = {}
    attempts: Counter[date] = Counter()
    for run in catalog.day_runs(source, first, last):  # by id: the last one is the latest
        latest[run.day] = run
        if run.status is DayStatus.PENDING:
            attempts[run.day] += 1
    days = list(iter_days(first, last))
    rows = from_day_runs(days, latest)
    return {
        "source": source,
        "first": first.isoformat(),
        "last": last.isoformat(),
        "days": [_day_document(day, latest.get(day), attempts[day]) for day in days],
        "availability": {
            **summarize(rows).as_json(),
            "days": [row.as_json() for row in rows],
        },
    }


def _day_document(day: date, run: DayRun | None, attempt: int) -> dict[str, Any]:
    values = {} if run is None else dataclasses.asdict(run)
    document: dict[str, Any] = {"day": day.isoformat(), "attempt": attempt}
    for name in _FIELDS:
        document[_RENAMED.get(name, name)] = _plain(values.get(name))
    if run is None:
        document["state"] = NOT_RUN
    return document


def _plain(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    return value
