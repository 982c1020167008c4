"""Backfill goodput benchmark: one day from a rate-limited records API, skyhaul and the seed.

    python -m benchmarks.bench_backfill [--quick] [--limits 5,20,100]

Rules:
- The simulator runs as a child process (``skyhaul sim``), so on a 2-core machine it has
  a core and an interpreter of its own. It serves 1 sensor every 60 s (two dosimeters:
  2,880 records a day, a few KB per request), so that neither the server nor the JSON
  holds a client back: the rate limit does.
- Per limit L (requests/s; burst 5; each 429 carries ``Retry-After``, as the simulator
  always answers), the limit is put in force through ``/_sim/faults`` right before each
  run, which refills the server's bucket, and the counters are reset; ``/_sim/stats``
  gives the requests and 429s afterwards.
- The day is cut into chunks that take about ``IDEAL_S`` at exactly L: 288 s at 5
  (300 requests), 72 s at 20 (1,200), 15 s at 100 (5,760); ``--quick`` halves the work.
  A backfill runs for hours, so the run is long enough that start-up (the first burst
  and the refusals that measure the limit) does not dominate it.
- The seed's client is capped at 25 r/s: it stops starting chunks after
  ``SEED_BUDGET_S`` and its goodput is over the time it ran.
- skyhaul: ``skyhaul.services.backfill.backfill`` of that day in this process, with the
  source's default settings (concurrency, attempts), a fresh SQLite catalog and output
  directory. Its seconds are the ledger row's ``seconds`` (every chunk fetched, spooled,
  assembled and renamed into place); the wall time around the call is shown too.
- The seed: ``benchmarks/clients/seed_aimd.py`` in this process (4 threads), asking for
  the same chunk URLs; its seconds are the wall time of fetching and parsing them all.
- Goodput: successful requests (the simulator's requests less its 429s: one per chunk
  when the day is complete) per second. Refused share: 429s over all requests, from the
  simulator, cross-checked with the client's own count (skyhaul's: its ledger row).
- One run per client and limit, skyhaul first.

Targets (the issue): at each limit, skyhaul's goodput at least 90% of the limit, with
under 10% of its requests refused.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks import simproc
from benchmarks.clients.seed_aimd import ChunkError, fetch_chunks
from benchmarks.results import FigureTable, ScenarioResult, TargetCheck
from skyhaul.adapters.sources.records_api import RecordsApiSettings
from skyhaul.core.backfill import chunk_windows, day_window

__all__ = ["SimProcess", "chunk_for", "main", "run", "scenario"]

LIMITS = (5, 20, 100)
BURST = 5
IDEAL_S = 60.0
SEED_BUDGET_S = 70.0
DAY = date(2024, 1, 1)
SENSORS = 1
CADENCE_S = 60
PER_DAY = SENSORS * 2 * 86400 // CADENCE_S
TARGET_SHARE_OF_LIMIT = 0.90
TARGET_REFUSED = 0.10
RUN_TIMEOUT_S = 180.0
SIM_START_TIMEOUT_S = 60.0
CLIENTS = ("skyhaul", "seed (AIMD 5..25 r/s)")


class SimProcess(simproc.SimProcess):
    """``skyhaul sim`` as a child serving the records API, for the life of a ``with`` block.

    Parameters
    ----------
    scratch : Path
        Where its cache, URL file and output go.
    """

    def __init__(self, scratch: Path) -> None:
        args = [
            "--files=1",
            "--size=1",
            f"--root={scratch / 'sim'}",
            f"--sensors={SENSORS}",
            f"--cadence={CADENCE_S}",
            f"--records-burst={BURST}",
        ]
        super().__init__(scratch, args, start_timeout=SIM_START_TIMEOUT_S)

    def limit(self, rate: float) -> None:
        """Put ``rate`` requests/s in force (a full bucket) and reset the counters."""
        self.post("_sim/faults", {"records_rate": rate, "records_burst": BURST})
        self.post("_sim/reset-stats", {})

    def counts(self) -> tuple[int, int]:
        """Records requests and their 429s since the last :meth:`limit`."""
        stats = self.stats()
        return stats["records_requests"], stats["records_throttled"]


def chunk_for(limit: float, *, quick: bool = False) -> timedelta:
    """The whole-second chunk dividing a day closest to ``IDEAL_S`` of requests at ``limit``."""
    ideal_s = IDEAL_S / 2 if quick else IDEAL_S
    wanted = 86400 / (limit * ideal_s)  # seconds per chunk
    seconds = min((s for s in range(1, 86401) if 86400 % s == 0), key=lambda s: abs(s - wanted))
    return timedelta(seconds=seconds)


def _settings(base_url: str, chunk: timedelta) -> RecordsApiSettings:
    """The source as a user would configure it: only what the endpoint needs."""
    return RecordsApiSettings(
        name="reach",
        url=base_url + "api/records",
        query="?sensor={sensor}&obTime={start}..{end}",
        params={"sensor": "ALL"},
        chunk=chunk,
        expected_per_day=PER_DAY,
    )


def _run_skyhaul(settings: RecordsApiSettings, scratch: Path) -> dict[str, Any]:
    from skyhaul.adapters.catalog import open_catalog
    from skyhaul.services.backfill import BackfillRequest, backfill

    request = BackfillRequest(first=DAY, last=DAY, output_dir=scratch / "out")
    catalog = open_catalog(f"sqlite:///{scratch / 'catalog.db'}")
    try:
        began = time.perf_counter()
        asyncio.run(asyncio.wait_for(backfill(catalog, settings, request), RUN_TIMEOUT_S))
        wall = time.perf_counter() - began
        row = catalog.latest_day_runs(settings.name, DAY, DAY)[DAY]
    finally:
        catalog.close()
    return {
        "seconds": row.seconds or wall,
        "wall": wall,
        "own": (row.requests, row.throttled),
        "records": row.records or 0,
        "status": row.status.value,
    }


def _run_seed(settings: RecordsApiSettings, scratch: Path) -> dict[str, Any]:
    start, end = day_window(DAY)
    urls = [settings.chunk_url(a, b) for a, b in chunk_windows(start, end, settings.chunk)]
    try:
        outcome = fetch_chunks(urls, budget=SEED_BUDGET_S)
    except ChunkError as error:
        return {"seconds": 0.0, "wall": 0.0, "own": (0, 0), "records": 0, "status": str(error)}
    return {
        "seconds": outcome.seconds,
        "wall": outcome.seconds,
        "own": (outcome.requests, outcome.throttled),
        "records": outcome.records,
        "status": (
            "DOWNLOADED"
            if outcome.chunks == len(urls)
            else f"{outcome.chunks}/{len(urls)} chunks in its {SEED_BUDGET_S:.0f} s budget"
        ),
    }


_RUNNERS = dict(zip(CLIENTS, (_run_skyhaul, _run_seed), strict=True))


def run(
    limits: tuple[float, ...] = LIMITS,
    *,
    quick: bool = False,
    say: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Backfill one day at each limit with each client, against a child simulator.

    Parameters
    ----------
    limits : tuple of float
        Requests per second the server admits, one run per client each.
    quick : bool
        Half the work per run (chunks twice as long).
    say : callable
        Receives progress lines.

    Returns
    -------
    dict
        ``runs`` (client, limit, chunk, chunks, requests and 429s from the simulator,
        the client's own count, seconds, wall, records, status) and ``skipped`` (runs
        that raised, and why).
    """
    figures: dict[str, Any] = {"runs": [], "skipped": {}}
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(
        prefix="skyhaul-bench-backfill-", dir=shm if shm.is_dir() else None
    ) as directory:
        scratch = Path(directory)
        with SimProcess(scratch) as sim:
            say(f"[backfill] simulator at {sim.base_url}")
            for limit in limits:
                chunk = chunk_for(limit, quick=quick)
                settings = _settings(sim.base_url, chunk)
                chunks = len(chunk_windows(*day_window(DAY), chunk))
                for client, runner in _RUNNERS.items():
                    work = scratch / f"{client.split()[0]}-{limit:g}"
                    work.mkdir()
                    sim.limit(limit)
                    try:
                        outcome = runner(settings, work)
                    except Exception as error:  # one broken run must not lose the others
                        why = f"{type(error).__name__}: {error}"
                        figures["skipped"][f"{client} at {limit:g} r/s"] = why
                        continue
                    requests, throttled = sim.counts()
                    entry = {
                        "client": client,
                        "limit": limit,
                        "chunk": f"{chunk.seconds}s",
                        "chunks": chunks,
                        "requests": requests,
                        "throttled": throttled,
                        **outcome,
                    }
                    figures["runs"].append(entry)
                    say(f"[backfill] {client} at {limit:g} r/s: {_line(entry)}")
    return figures


def goodput(entry: dict[str, Any]) -> float:
    """Successful requests per second of a run."""
    seconds: float = entry["seconds"]
    return (entry["requests"] - entry["throttled"]) / seconds if seconds > 0 else 0.0


def refused_share(entry: dict[str, Any]) -> float:
    """429s over all requests of a run (0 when none was made)."""
    return entry["throttled"] / entry["requests"] if entry["requests"] else 0.0


def _complete(entry: dict[str, Any]) -> bool:
    """The day is all there, and the server saw exactly one success per chunk."""
    successes = entry["requests"] - entry["throttled"]
    return (
        entry["status"] == "DOWNLOADED"
        and entry["records"] == PER_DAY
        and successes == entry["chunks"]
    )


def _verdicts(entry: dict[str, Any]) -> tuple[bool, bool]:
    """(goodput ≥ 90% of the limit, refused < 10%), each False for an incomplete day."""
    whole = _complete(entry)
    fast = whole and goodput(entry) >= TARGET_SHARE_OF_LIMIT * entry["limit"]
    polite = whole and refused_share(entry) < TARGET_REFUSED
    return fast, polite


def _line(entry: dict[str, Any]) -> str:
    return (
        f"{entry['requests']} requests, {100 * refused_share(entry):.1f}% refused, "
        f"{entry['seconds']:.2f} s, {goodput(entry):.2f} r/s "
        f"({100 * goodput(entry) / entry['limit']:.0f}% of the limit), {entry['status']}"
    )


# --- reporting ----------------------------------------------------------------------------

_HEAD = (
    "client",
    "requests",
    "refused",
    "seconds",
    "goodput r/s",
    "% of limit",
    "client's count (req/429)",
    "wall s",
    "targets (≥90%, <10%)",
)


def tables(figures: dict[str, Any]) -> list[FigureTable]:
    """One table per limit: each client's requests, refusals, seconds and goodput."""
    by_limit: dict[float, list[dict[str, Any]]] = {}
    for entry in figures["runs"]:
        by_limit.setdefault(entry["limit"], []).append(entry)
    made = []
    for limit, entries in by_limit.items():
        first = entries[0]
        # The bucket starts full: its burst + 1 requests pass at once, the rest at the limit.
        best = max(0, first["chunks"] - BURST - 1) / limit
        title = (
            f"**{limit:g} requests/s** (burst {BURST}, 429 with Retry-After): one day in "
            f"{first['chunk']} chunks, {first['chunks']:,} requests at the least, "
            f"{first['chunks'] / limit:.1f} s at exactly the limit ({best:.1f} s at best)"
        )
        made.append(FigureTable(title, _HEAD, tuple(_row(e) for e in entries)))
    return made


def _row(entry: dict[str, Any]) -> tuple[str, ...]:
    own_requests, own_throttled = entry["own"]
    verdict = ""
    if entry["client"] == CLIENTS[0]:
        verdict = ", ".join("met" if ok else "missed" for ok in _verdicts(entry))
    if not _complete(entry):
        verdict = f"{verdict} (incomplete: {entry['status']}, {entry['records']:,} records)"
    return (
        entry["client"],
        f"{entry['requests']:,}",
        f"{100 * refused_share(entry):.1f}%",
        f"{entry['seconds']:.2f}",
        f"{goodput(entry):.2f}",
        f"{100 * goodput(entry) / entry['limit']:.0f}%",
        f"{own_requests:,}/{own_throttled:,}",
        f"{entry['wall']:.2f}",
        verdict.strip(),
    )


def table_lines(figures: dict[str, Any]) -> list[str]:
    """The tables as plain text."""
    lines = []
    for table in tables(figures):
        widths = [
            max(len(cell) for cell in column)
            for column in zip(table.head, *table.rows, strict=True)
        ]
        lines += ["", table.title.replace("**", ""), ""]
        for cells in (table.head, *table.rows):
            text = [cells[0].ljust(widths[0])]
            text += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
            lines.append("  " + "  ".join(text))
    for what, why in figures["skipped"].items():
        lines += ["", f"{what}: skipped, {why}"]
    return lines


def targets(figures: dict[str, Any]) -> list[TargetCheck]:
    """The issue's two targets for skyhaul at each limit."""
    checks = []
    for entry in figures["runs"]:
        if entry["client"] != CLIENTS[0]:
            continue
        limit, rate, share = entry["limit"], goodput(entry), refused_share(entry)
        fast, polite = _verdicts(entry)
        lacking = "" if _complete(entry) else "; the day is incomplete"
        checks += [
            TargetCheck(
                f"at {limit:g} r/s, goodput at least 90% of the limit",
                "met" if fast else "missed",
                f"{rate:.2f} r/s = {100 * rate / limit:.0f}% of {limit:g} (need ≥ 90%){lacking}",
            ),
            TargetCheck(
                f"at {limit:g} r/s, under 10% of requests refused",
                "met" if polite else "missed",
                f"{entry['throttled']:,} of {entry['requests']:,} = {100 * share:.1f}% "
                f"(need < 10%){lacking}",
            ),
        ]
    return checks


def scenario(*, quick: bool, say: Callable[[str], None]) -> ScenarioResult:
    """Run the benchmark for ``make bench`` (scenario g) and return its section."""
    result = ScenarioResult(
        "g",
        "backfill goodput against rate-limited records APIs (5, 20, 100 requests/s)",
        "One day of the simulator's records API (`skyhaul sim` in a child process, 1 sensor "
        "every 60 s, limit per run through /_sim/faults, burst 5, 429 with Retry-After), "
        f"cut into chunks worth about {IDEAL_S / 2 if quick else IDEAL_S:.0f} s at the limit, "
        "fetched by skyhaul.services.backfill.backfill (default source settings; seconds: its "
        "ledger row's) and by the seed's client rebuilt in benchmarks/clients/seed_aimd.py "
        "(4 threads, AIMD from 5 r/s, +1 per success, ×0.5 per 429, 5..25 r/s, Retry-After "
        "ignored; seconds: wall). Goodput: successful requests per second; refused: 429s over "
        "all requests, as the simulator counted them. One run per client and limit. "
        "Measured by benchmarks/bench_backfill.py.",
    )
    figures = run(quick=quick, say=say)
    result.skipped.update(figures["skipped"])
    result.tables = tables(figures)
    result.targets = targets(figures)
    return result


def main(argv: list[str] | None = None) -> None:
    """Command line: print the tables (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--limits",
        default=",".join(str(limit) for limit in LIMITS),
        help="server limits in requests/s, comma-separated",
    )
    parser.add_argument("--quick", action="store_true", help="half the work per run")
    args = parser.parse_args(argv)
    limits = tuple(float(text) for text in args.limits.split(",") if text.strip())
    print("\n".join(table_lines(run(limits, quick=args.quick, say=_say))))


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
