"""Catalog claims on PostgreSQL (issue 17): claims, renewals and completions per second.

    python -m benchmarks.bench_claims [--quick] [--url URL] [--seconds S]

The catalog is the one thing every worker shares, so this measures what one PostgreSQL
sustains: a catalog of 1,000,000 files (200,000 with ``--quick``), filled as
``bench_catalog`` fills it (30% claimable), in a throw-away schema dropped afterwards.
Then, for 1, 2, 4, 8 and 16 claimer processes (each its own interpreter, engine and
owner) and batches of 100 and 1,000, every claimer runs the engine's cycle for a few
seconds, all starting together:

- ``claim_batch(owner, batch)``;
- ``renew_leases`` of the batch once (a heartbeat while it is held, with progress);
- ``complete_many`` of the batch, with one attempt row per file (as the engine flushes).

Reported per setting: files claimed, renewed and completed per second in all, the p50 and
p99 of one call of each, and whether any file was claimed twice (it must not be). Between
settings the files the previous one touched are put back (DISCOVERED), vacuumed and the
totals rebuilt, so every setting starts from the same catalog. One SQLite row (a single
claimer, as the embedded default runs) is measured the same way for comparison, and the
PostgreSQL catalog's size on disk and the rate of ``Catalog.register`` are measured too.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from benchmarks.bench_catalog import DEFAULT_POSTGRES, NOW, catalog_backends, fill, scratch_catalog
from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.model import AttemptRecord, Completion, FileSpec

CLAIMERS = (1, 2, 4, 8, 16)
BATCHES = (100, 1_000)
LEASE_SECONDS = 60.0
SECONDS = 4.0
QUICK_SECONDS = 1.5
ROWS = 1_000_000
QUICK_ROWS = 200_000
REGISTER_SPECS = 50_000
QUICK_REGISTER_SPECS = 10_000
_SHA256 = "0" * 64
CREATED = datetime(2024, 12, 1, tzinfo=UTC)  # bench_catalog's created_at and updated_at

# Everything a setting touched carries ``updated_at = NOW`` (the fill dates its rows
# earlier), so this puts exactly those files back where they were claimable from.
_RESET = """
UPDATE files SET state = 'DISCOVERED', lease_owner = NULL, lease_expires_at = NULL,
       attempts = 0, next_attempt_at = NULL, bytes_done = 0, downloaded_at = NULL,
       sha256 = NULL, validator = NULL, error_class = NULL, last_error = NULL,
       updated_at = :created
WHERE updated_at = :now
"""


@dataclass(frozen=True)
class ClaimerRun:
    """What one claimer process did in its window (lists of seconds per call)."""

    claimed: list[int]
    renewed: int
    completed: int
    claim_s: list[float]
    renew_s: list[float]
    complete_s: list[float]
    wall_s: float
    exhausted: bool


@dataclass(frozen=True)
class Setting:
    """The figures of one (backend, claimers, batch) setting, as the table prints them."""

    backend: str
    claimers: int
    batch: int
    wall_s: float
    claims_per_s: float
    renewals_per_s: float
    completes_per_s: float
    claim_p50_ms: float
    claim_p99_ms: float
    renew_p50_ms: float
    complete_p50_ms: float
    claimed: int
    distinct: int
    exhausted: bool


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``; 0.0 when empty.

    Nearest rank, not interpolation: with few calls the p99 is the slowest one seen, never
    a figure between two calls that nobody waited for.
    """
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {q}")
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats' rounding
    return ordered[int(rank) - 1]


def summarize(backend: str, batch: int, runs: Sequence[ClaimerRun]) -> Setting:
    """Combine the claimers' runs of one setting into its rates and latencies.

    The window is the longest claimer's (they all start at one barrier), so the rates are
    what the database sustained for all of them together.
    """
    wall = max((run.wall_s for run in runs), default=0.0)
    claimed = [file_id for run in runs for file_id in run.claimed]

    def rate(count: int) -> float:
        return round(count / wall, 1) if wall > 0 else 0.0

    def ms(values: list[float], q: float) -> float:
        return round(percentile(values, q) * 1000, 2)

    claims = [s for run in runs for s in run.claim_s]
    return Setting(
        backend=backend,
        claimers=len(runs),
        batch=batch,
        wall_s=round(wall, 2),
        claims_per_s=rate(len(claimed)),
        renewals_per_s=rate(sum(run.renewed for run in runs)),
        completes_per_s=rate(sum(run.completed for run in runs)),
        claim_p50_ms=ms(claims, 50),
        claim_p99_ms=ms(claims, 99),
        renew_p50_ms=ms([s for run in runs for s in run.renew_s], 50),
        complete_p50_ms=ms([s for run in runs for s in run.complete_s], 50),
        claimed=len(claimed),
        distinct=len(set(claimed)),
        exhausted=any(run.exhausted for run in runs),
    )


def markdown_table(settings: Sequence[Setting]) -> str:
    """The settings as the Markdown table of benchmarks/README.md."""
    lines = [
        "| backend | claimers | batch | claims/s | renewals/s | completes/s "
        "| claim p50 ms | claim p99 ms | renew p50 ms | complete p50 ms "
        "| claimed / distinct |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in settings:
        twice = "" if s.claimed == s.distinct else " ❌ DUPLICATES"
        short = " (pool ran out)" if s.exhausted else ""
        lines.append(
            f"| {s.backend} | {s.claimers} | {s.batch:,} | {s.claims_per_s:,.0f} "
            f"| {s.renewals_per_s:,.0f} | {s.completes_per_s:,.0f} | {s.claim_p50_ms:.1f} "
            f"| {s.claim_p99_ms:.1f} | {s.renew_p50_ms:.1f} | {s.complete_p50_ms:.1f} "
            f"| {s.claimed:,} / {s.distinct:,}{twice}{short} |"
        )
    return "\n".join(lines)


def _claimer(url: str, owner: str, batch: int, seconds: float, start: Barrier) -> ClaimerRun:
    """One claimer process: claim, renew once, complete, until ``seconds`` have passed."""
    catalog = open_catalog(url)
    try:
        catalog.renew_leases(owner, [0], now=NOW, lease_seconds=LEASE_SECONDS)  # connect now
        start.wait()
        began = time.perf_counter()
        deadline = began + seconds
        claimed: list[int] = []
        claim_s: list[float] = []
        renew_s: list[float] = []
        complete_s: list[float] = []
        renewed = completed = 0
        exhausted = False
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            records = catalog.claim_batch(owner, batch, now=NOW, lease_seconds=LEASE_SECONDS)
            t1 = time.perf_counter()
            claim_s.append(t1 - t0)
            if not records:
                exhausted = True
                break
            ids = [record.id for record in records]
            claimed.extend(ids)
            held = catalog.renew_leases(
                owner,
                ids,
                now=NOW,
                lease_seconds=LEASE_SECONDS,
                bytes_done={record.id: (record.size or 0) // 2 for record in records},
            )
            t2 = time.perf_counter()
            renew_s.append(t2 - t1)
            renewed += len(held)
            promoted = catalog.complete_many(
                [Completion(r.id, r.size or 0, _SHA256, None) for r in records],
                owner,
                now=NOW,
                attempts=[
                    AttemptRecord(r.id, NOW, NOW + timedelta(seconds=1), "ok", r.size or 0)
                    for r in records
                ],
            )
            complete_s.append(time.perf_counter() - t2)
            completed += len(promoted)
        return ClaimerRun(
            claimed, renewed, completed, claim_s, renew_s, complete_s,
            time.perf_counter() - began, exhausted,
        )  # fmt: skip
    finally:
        catalog.close()


def _child(url: str, owner: str, batch: int, seconds: float, start: Barrier, out: Any) -> None:
    out.put(asdict(_claimer(url, owner, batch, seconds, start)))


def run_setting(url: str, backend: str, claimers: int, batch: int, seconds: float) -> Setting:
    """Run ``claimers`` processes against ``url`` for ``seconds``; summarize them."""
    context = multiprocessing.get_context("spawn")  # no engine inherited across a fork
    start = context.Barrier(claimers)
    out = context.Queue()
    children = [
        context.Process(
            target=_child, args=(url, f"claimer-{claimers}-{batch}-{n}", batch, seconds, start, out)
        )
        for n in range(claimers)
    ]
    for child in children:
        child.start()
    runs = [ClaimerRun(**out.get(timeout=seconds + 300)) for _ in children]
    for child in children:
        child.join(timeout=60)
        if child.exitcode != 0:
            raise RuntimeError(f"a claimer exited with {child.exitcode}")
    return summarize(backend, batch, runs)


def reset(catalog: Catalog, backend: str) -> None:
    """Put back what a setting claimed and completed; vacuum; rebuild the totals."""
    created: object = CREATED
    now: object = NOW
    if backend == "sqlite":  # the catalog stores SQLite times as text in this form
        created, now = (moment.strftime("%Y-%m-%d %H:%M:%S.%f") for moment in (CREATED, NOW))
    engine = catalog._db.engine  # below the API, as bench_catalog fills
    with engine.begin() as connection:
        connection.execute(text(_RESET), {"created": created, "now": now})
        connection.execute(text("DELETE FROM attempts"))
    if backend == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("VACUUM ANALYZE files")
            connection.exec_driver_sql("VACUUM attempts")
    catalog.rebuild_totals()


def _rows(catalog: Catalog, sql: str) -> list[Any]:
    with catalog._db.engine.connect() as connection:
        return list(connection.execute(text(sql)).all())


def database_size(catalog: Catalog) -> dict[str, int]:
    """Bytes of the files table on PostgreSQL: heap, indexes, total and each index."""
    heap, indexes, total = _rows(
        catalog,
        "SELECT pg_relation_size('files'), pg_indexes_size('files'),"
        " pg_total_relation_size('files')",
    )[0]
    sizes = {"heap": heap, "indexes": indexes, "total": total}
    each = _rows(
        catalog,
        "SELECT indexrelname, pg_relation_size(indexrelid) FROM pg_stat_user_indexes"
        " WHERE relname = 'files' AND schemaname = current_schema() ORDER BY 2 DESC",
    )
    sizes.update({f"index {name}": size for name, size in each})
    return sizes


def update_counts(catalog: Catalog) -> dict[str, int]:
    """Updates of the files table so far, and how many were HOT (no index entry written).

    A HOT update rewrites the row in its page and touches no index; any other writes a
    new entry into every index of the table, which is what a claim's change of state does.
    """
    updates, hot = _rows(
        catalog,
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
        " WHERE relname = 'files' AND schemaname = current_schema()",
    )[0]
    return {"updates": updates, "hot_updates": hot}


def register_rate(catalog: Catalog, count: int) -> float:
    """Files per second ``Catalog.register`` adds (new URLs, one call)."""
    specs = [
        FileSpec(url=f"https://archive.example/new/{i}.fits", path=f"new/{i}.fits", size=i)
        for i in range(count)
    ]
    start = time.perf_counter()
    catalog.register(specs, "/bench", now=NOW)
    return round(count / (time.perf_counter() - start), 1)


def run_backend(
    url: str | None, rows: int, seconds: float, claimer_counts: Sequence[int], register: int
) -> dict[str, Any]:
    """Fill one throw-away catalog and run every setting on it; figures as a dict."""
    with scratch_catalog(url) as (catalog_url, backend):
        catalog = open_catalog(catalog_url)
        try:
            began = time.perf_counter()
            fill(catalog, rows, backend)
            catalog.rebuild_totals()
            figures: dict[str, Any] = {
                "backend": backend,
                "rows": rows,
                "fill_s": round(time.perf_counter() - began, 2),
            }
            if backend == "postgresql":
                figures["size_bytes"] = database_size(catalog)
            else:
                path = make_url(catalog_url).database or ""
                figures["size_bytes"] = {"total": Path(path).stat().st_size}
            settings = []
            for batch in BATCHES:
                for claimers in claimer_counts:
                    setting = run_setting(catalog_url, backend, claimers, batch, seconds)
                    print(json.dumps(asdict(setting)), flush=True)
                    settings.append(setting)
                    reset(catalog, backend)
            figures["settings"] = settings
            if backend == "postgresql":
                figures["files_updates"] = update_counts(catalog)
            figures["register_per_s"] = register_rate(catalog, register)
        finally:
            catalog.close()
    return figures


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.bench_claims [--quick] [--url URL]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="200,000 files, 1.5 s a setting")
    parser.add_argument("--url", default=DEFAULT_POSTGRES, help="PostgreSQL catalog URL")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per setting")
    args = parser.parse_args(argv)
    rows = QUICK_ROWS if args.quick else ROWS
    seconds = args.seconds or (QUICK_SECONDS if args.quick else SECONDS)
    register = QUICK_REGISTER_SPECS if args.quick else REGISTER_SPECS
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; cpus {os.cpu_count()}")
    backends, skipped = catalog_backends(args.url)
    for why in skipped.values():
        print(f"postgresql skipped: {why}")
    results = []
    for url in backends:
        counts = CLAIMERS if url is not None else (1,)  # SQLite: the embedded single claimer
        results.append(run_backend(url, rows, seconds, counts, register))
    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    settings = [s for result in reversed(results) for s in result.pop("settings")]
    for result in results:
        print(json.dumps(result))
    print(markdown_table(settings))


if __name__ == "__main__":
    main()
