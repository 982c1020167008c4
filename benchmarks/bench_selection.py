"""Selection benchmark: each catalog query the product runs for a selection, on a large catalog.

    python -m benchmarks.bench_selection [--rows N] [--rounds N] [--postgres URL | --no-postgres]

The catalog is built by ``bench_catalog.fill(..., mission=True)``: 1,000,000 files over a
year of observations, eight instruments, three ground-station passes a day, the state mix
of ``bench_catalog`` (60% DOWNLOADED, each with its own download time). It lives in a
throw-away SQLite file, and in a throw-away schema of the PostgreSQL database at
``--postgres`` when that answers (skipped with the reason otherwise).

Rules:
- Queries go through the public ``Catalog`` API, as the product calls it: ``skyhaul ls``
  runs ``list_files(selection, limit=100)`` and ``count_files``; ``skyhaul download``
  runs ``expected_totals`` (its progress bar), ``claim_batch`` of 1,000 and, once
  nothing is left to claim, ``next_attempt_due``. "Downloaded between" is an ``ls``
  filter only, so it gets the ``ls`` queries only.
- A claim is undone after each timed run (``release``, outside the timing): the claimed
  files go back to DISCOVERED (due FAILED ones too), so every round finds the same files
  claimable.
- The day asked for is a recent one (ten days before the catalog's last), the one an
  operator most often wants, and where a window open on one side costs the most.
- Each figure is the median of ``--rounds`` runs, in milliseconds; target < 200 ms. Any
  query over target is run once more with its SQL captured, and its plan printed
  (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL), so the cause shows.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from benchmarks.bench_catalog import (
    DEFAULT_POSTGRES,
    MISSION_START,
    NOW,
    PASS_LENGTH_S,
    PASS_OFFSET_S,
    PASS_PERIOD_S,
    SECONDS_PER_ROW,
    catalog_backends,
    fill,
    scratch_catalog,
)
from benchmarks.results import ScenarioResult, check_at_most
from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.model import Selection

__all__ = ["main", "run", "scenario"]

TARGET_MS = 200.0
ROUNDS = 5
LIST_LIMIT = 100
CLAIM_BATCH = 1_000
INSTRUMENT = "I3"
PASSES = 10
OWNER = "bench-selection"

Undo = Callable[[], object]


@dataclass(frozen=True, slots=True)
class Query:
    """One catalog call the product makes with a selection.

    Parameters
    ----------
    name : str
        Column heading.
    call : callable
        ``(catalog, selection) -> undo or None``; the undo runs after the timing.
    download : bool
        Made by ``skyhaul download`` (False: by ``skyhaul ls``).
    """

    name: str
    call: Callable[[Catalog, Selection], Undo | None]
    download: bool


@dataclass(frozen=True, slots=True)
class Case:
    """A selection, and whether ``skyhaul download`` can take it (else only ``ls``)."""

    name: str
    selection: Selection
    download: bool = True


def _list(catalog: Catalog, selection: Selection) -> None:
    catalog.list_files(selection, limit=LIST_LIMIT)


def _count(catalog: Catalog, selection: Selection) -> None:
    catalog.count_files(selection)


def _expected(catalog: Catalog, selection: Selection) -> None:
    catalog.expected_totals(selection=selection)


def _claim(catalog: Catalog, selection: Selection) -> Undo:
    batch = catalog.claim_batch(OWNER, CLAIM_BATCH, now=NOW, lease_seconds=60, selection=selection)
    return lambda: catalog.release([record.id for record in batch], OWNER, now=NOW)


def _next_due(catalog: Catalog, selection: Selection) -> None:
    catalog.next_attempt_due(selection=selection)


QUERIES = (
    Query(f"list {LIST_LIMIT}", _list, download=False),
    Query("count", _count, download=False),
    Query("expected totals", _expected, download=True),
    Query(f"claim {CLAIM_BATCH:,}", _claim, download=True),
    Query("next due", _next_due, download=True),
)


def cases(rows: int) -> tuple[datetime, list[Case]]:
    """The day asked for and the selections, for a catalog of ``rows`` mission files."""
    span_days = int(rows * SECONDS_PER_ROW // 86_400)
    day = MISSION_START + timedelta(days=max(1, span_days - 10))
    end = day + timedelta(days=1)
    first_pass = int((day - MISSION_START).total_seconds()) // PASS_PERIOD_S
    passes = tuple(_pass_window(first_pass + k) for k in range(PASSES))
    return day, [
        Case("observation day", Selection(obs_start=day, obs_end=end)),
        Case(
            f"observation day, instrument {INSTRUMENT}",
            Selection(obs_start=day, obs_end=end, instrument=INSTRUMENT),
        ),
        Case("downlink day", Selection(downlink_start=day, downlink_end=end)),
        Case(
            f"downlink day, instrument {INSTRUMENT}",
            Selection(downlink_start=day, downlink_end=end, instrument=INSTRUMENT),
        ),
        Case(f"{PASSES} passes (--slots)", Selection(downlink_windows=passes)),
        Case(
            "downloaded between, one day",
            Selection(downloaded_start=day, downloaded_end=end),
            download=False,
        ),
    ]


def run(
    rows: int = 1_000_000,
    *,
    postgres: str | None = DEFAULT_POSTGRES,
    rounds: int = ROUNDS,
    say: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Build the catalog on each backend and time every query of every selection.

    Parameters
    ----------
    rows : int
        Files in the catalog.
    postgres : str or None
        PostgreSQL catalog URL to run on too (in a throw-away schema); None: SQLite only.
    rounds : int
        Runs per query (the median is kept).
    say : callable
        Receives progress lines.

    Returns
    -------
    dict
        ``rows``, ``day``, ``rounds``, ``target_ms``; ``backends``: per backend the fill
        seconds and, per selection, the matching files, the median milliseconds per query
        and the plans of the queries over target; ``skipped``: backend to reason.
    """
    day, selections = cases(rows)
    figures: dict[str, Any] = {
        "rows": rows,
        "day": day.date().isoformat(),
        "rounds": rounds,
        "target_ms": TARGET_MS,
        "backends": {},
        "skipped": {},
    }
    urls, skipped = catalog_backends(postgres)
    figures["skipped"].update(skipped)
    for url in urls:
        with scratch_catalog(url) as (catalog_url, backend):
            catalog = open_catalog(catalog_url)
            try:
                say(f"[selection] filling {rows:,} rows on {backend} ...")
                began = time.perf_counter()
                fill(catalog, rows, backend, mission=True)
                catalog.rebuild_totals()
                fill_s = time.perf_counter() - began
                results = [_measure_case(catalog, case, rounds, say) for case in selections]
            finally:
                catalog.close()
        figures["backends"][backend] = {"fill_s": round(fill_s, 2), "cases": results}
    return figures


def _measure_case(
    catalog: Catalog, case: Case, rounds: int, say: Callable[[str], None]
) -> dict[str, Any]:
    timings: dict[str, float] = {}
    plans: dict[str, list[str]] = {}
    for query in QUERIES:
        if query.download and not case.download:
            continue
        runs = [_timed(catalog, query, case.selection) for _ in range(rounds)]
        timings[query.name] = round(statistics.median(runs) * 1000, 2)
        if timings[query.name] > TARGET_MS:
            plans[query.name] = _plans(catalog, query, case.selection)
    matching = catalog.count_files(case.selection)
    say(f"[selection] {case.name}: {matching:,} files, {timings}")
    return {"case": case.name, "matching": matching, "ms": timings, "plans": plans}


def _timed(catalog: Catalog, query: Query, selection: Selection) -> float:
    start = time.perf_counter()
    undo = query.call(catalog, selection)
    seconds = time.perf_counter() - start
    if undo is not None:
        undo()
    return seconds


def _plans(catalog: Catalog, query: Query, selection: Selection) -> list[str]:
    """Run ``query`` once more, capturing its SQL on files, and return each one's plan."""
    engine = catalog._db.engine  # below the API: the plans are the point here
    with _captured(engine) as statements:
        undo = query.call(catalog, selection)
    if undo is not None:
        undo()
    explain = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    lines: list[str] = []
    seen: set[str] = set()
    with engine.connect() as connection:
        for statement, parameters in statements:
            if statement in seen:
                continue
            seen.add(statement)
            rows = connection.exec_driver_sql(explain + statement, parameters).all()
            plan = [_shortened(str(row[-1]).strip()) for row in rows]  # SQLite: row[3]
            lines.append(f"{_verb(statement)}: " + " / ".join(plan))
        connection.rollback()
    return lines


@contextlib.contextmanager
def _captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Collect the single statements that read or change ``files`` while the block runs."""
    statements: list[tuple[str, Any]] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        head = statement.lstrip().upper()
        if not many and head.startswith(("SELECT", "UPDATE", "WITH")) and "FILES" in head:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _shortened(node: str, most: int = 160) -> str:
    """A plan node cut short (PostgreSQL spells out every id of an ``IN`` list)."""
    return node if len(node) <= most else node[: most - 1] + "…"


def _verb(statement: str) -> str:
    words = statement.split()
    return words[0].upper() if words else "?"


def _pass_window(index: int) -> tuple[datetime, datetime]:
    start = MISSION_START + timedelta(seconds=index * PASS_PERIOD_S + PASS_OFFSET_S)
    return start, start + timedelta(seconds=PASS_LENGTH_S)


# --- reporting ----------------------------------------------------------------------------


def table_lines(figures: dict[str, Any]) -> list[str]:
    """The results as plain-text tables, one per backend, then the plans over target."""
    names = [query.name for query in QUERIES]
    lines = [
        f"selection benchmark: {figures['rows']:,} files, day {figures['day']}, median of "
        f"{figures['rounds']} runs in ms (target < {figures['target_ms']:.0f} ms; * over)"
    ]
    width = max(len(case["case"]) for b in figures["backends"].values() for case in b["cases"])
    for backend, result in figures["backends"].items():
        lines += ["", f"{backend} (built in {result['fill_s']:.1f} s)"]
        head = f"  {'selection':<{width}}  {'files':>8}" + "".join(
            f"  {n:>{max(9, len(n))}}  " for n in names
        )
        lines.append(head.rstrip())
        for case in result["cases"]:
            cells = [_cell(case["ms"].get(name), len(name)) for name in names]
            row = f"  {case['case']:<{width}}  {case['matching']:>8,}" + "".join(cells)
            lines.append(row.rstrip())
    for backend, why in figures["skipped"].items():
        lines += ["", f"{backend}: skipped, {why}"]
    for backend, result in figures["backends"].items():
        for case in result["cases"]:
            for name, plan in case["plans"].items():
                lines += ["", f"plan, {backend}, {case['case']}, {name}:"]
                lines += [f"  {line}" for line in plan]
    return lines


def _cell(ms: float | None, heading: int) -> str:
    """A right-aligned figure under a heading ``heading`` wide, ``*`` when over target."""
    shown = "-" if ms is None else f"{ms:.1f}"
    mark = "*" if ms is not None and ms > TARGET_MS else " "
    return f"  {shown:>{max(9, heading)}} {mark}"


def scenario(*, quick: bool, say: Callable[[str], None]) -> ScenarioResult:
    """Run the benchmark for ``make bench`` (scenario f) and return its section."""
    rows = 100_000 if quick else 1_000_000
    result = ScenarioResult(
        "f",
        f"selections on a catalog of {rows:,} rows: each query under 200 ms",
        "Every catalog query skyhaul runs for a selection (ls: list 100, count; download: "
        "expected totals, claim 1,000, next due), median of "
        f"{ROUNDS} runs in ms, through the Catalog API on a catalog built by "
        "benchmarks/bench_catalog.py with a year of mission metadata; the day asked for "
        "is a recent one. Measured by benchmarks/bench_selection.py.",
    )
    figures = run(rows, say=say)
    result.skipped.update(figures["skipped"])
    result.extra["day asked for"] = figures["day"]
    for backend, outcome in figures["backends"].items():
        result.extra[f"{backend}: catalog built in (s)"] = outcome["fill_s"]
        for case in outcome["cases"]:
            shown = ", ".join(f"{name} {ms:.1f}" for name, ms in case["ms"].items())
            label = f"{backend}: {case['case']} ({case['matching']:,} files), ms"
            result.extra[label] = shown
            slowest = max(case["ms"], key=case["ms"].__getitem__)
            result.targets.append(
                check_at_most(
                    f"{backend}, {case['case']}: slowest query ({slowest}) under 200 ms",
                    case["ms"][slowest],
                    TARGET_MS,
                    "ms",
                )
            )
            for name, plan in case["plans"].items():
                result.extra[f"{backend} plan: {case['case']}, {name}"] = "; ".join(plan)
    return result


def main(argv: list[str] | None = None) -> None:
    """Command line: print the tables (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="files in the catalog")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="runs per query (median)")
    backends = parser.add_mutually_exclusive_group()
    backends.add_argument(
        "--postgres", default=DEFAULT_POSTGRES, metavar="URL", help="PostgreSQL to run on too"
    )
    backends.add_argument(
        "--no-postgres", dest="postgres", action="store_const", const=None, help="SQLite only"
    )
    args = parser.parse_args(argv)
    figures = run(args.rows, postgres=args.postgres, rounds=args.rounds, say=_say)
    print("\n".join(table_lines(figures)))


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
