"""Jobs benchmark: the cost of a running job's once-a-second progress write.

    python -m benchmarks.bench_jobs [--calls N] [--postgres URL | --no-postgres]

Each call is :meth:`Catalog.publish_job_progress` with a realistic progress document
(2,000 files, 16 in flight with archive-like names, per-file speed and source): one
committed ``UPDATE ... RETURNING`` that stores the progress, renews the lease and reads the
cancel flag. The SQLite catalog is a file on disk (not /dev/shm: the write is what is
measured); PostgreSQL works in a schema of its own, dropped afterwards.

Reported: the progress document's size, and the median and 90th percentile of one call
(µs) over ``--calls`` calls (after a short warm-up).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from benchmarks.bench_catalog import DEFAULT_POSTGRES, catalog_backends, scratch_catalog
from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.jobprogress import InFlightFile, JobProgress
from skyhaul.core.jobs import JobKind

NOW = datetime(2025, 1, 1, tzinfo=UTC)
WARM_UP = 20


def realistic_progress(step: int) -> JobProgress:
    """A download of 2,000 files, 3 GiB, with 16 in flight (what a job publishes)."""
    rows = tuple(
        InFlightFile(
            name=f"solo/L2/2024/03/01/solo_L2_eui-fsi174-image_20240301T{i:02d}{step % 60:02d}00"
            f"_V01.fits",
            bytes_done=(step * 7_340_032 + i * 1_048_576) % 50_331_648,
            bytes_total=50_331_648,
            speed=5_592_405.3 + i,
            source="s3" if i % 4 == 0 else "http",
        )
        for i in range(16)
    )
    return JobProgress(
        files_done=step % 2000,
        files_total=2000,
        files_failed=step % 3,
        bytes_done=step * 89_128_960,
        bytes_total=3 * 2**30,
        speed=89_128_960.4,
        eta=21.3,
        in_flight=rows,
    )


@contextmanager
def disk_sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="skyhaul-bench-jobs-") as directory:
        yield f"sqlite:///{directory}/catalog.db"


def measure(url: str, calls: int) -> dict[str, float]:
    """Median and 90th percentile (µs) of one publish, over ``calls`` calls."""
    with open_catalog(url) as catalog:
        job_id = catalog.create_job(JobKind.DOWNLOAD, {"selection": {}}, now=NOW)
        assert catalog.start_job(job_id, "bench:1", now=NOW, lease_seconds=30)
        documents = [realistic_progress(step) for step in range(calls + WARM_UP)]
        timings: list[float] = []
        for step, progress in enumerate(documents):
            now = NOW + timedelta(seconds=step)
            started = time.perf_counter()
            flag = catalog.publish_job_progress(
                job_id, "bench:1", progress, now=now, lease_seconds=30
            )
            elapsed = time.perf_counter() - started
            assert flag is False
            if step >= WARM_UP:
                timings.append(elapsed * 1e6)
    deciles = statistics.quantiles(timings, n=10)
    return {"median_us": statistics.median(timings), "p90_us": deciles[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    size = len(json.dumps(realistic_progress(1).as_json(), separators=(",", ":")))
    print(f"progress document: {size} bytes of JSON, 16 files in flight")
    with disk_sqlite() as url:
        result = measure(url, args.calls)
    print(f"sqlite (file): median {result['median_us']:.0f} µs, p90 {result['p90_us']:.0f} µs")
    if args.no_postgres:
        return
    backends, skipped = catalog_backends(args.postgres)
    for why in skipped.values():
        print(f"postgresql: skipped, {why}")
    for backend_url in backends[1:]:
        with scratch_catalog(backend_url) as (url, _backend):
            result = measure(url, args.calls)
        print(f"postgresql: median {result['median_us']:.0f} µs, p90 {result['p90_us']:.0f} µs")


if __name__ == "__main__":
    main()
