"""Catalog benchmark: claim a batch of 1,000 and compute the status on a large catalog.

    python -m benchmarks.bench_catalog [--rows N] [--url URL]

Without ``--url`` the catalog is a SQLite file under /dev/shm (or the temporary
directory), deleted afterwards. With a PostgreSQL URL the benchmark works in a schema of
its own, dropped afterwards. Nothing is written into the repository.

The table is filled by the database itself (``INSERT ... SELECT`` over a generated
series, a few big transactions) with a realistic mix of states: 60% DOWNLOADED, 25%
DISCOVERED, 10% FAILED (half of them due), 3% ABANDONED, 2% IGNORED, interleaved so that
claimable rows are spread over the whole table. The totals are then rebuilt from the
table, as ``rebuild_totals`` would after a repair.

Other benchmarks build their catalogs with :func:`scratch_catalog` and :func:`fill`
(``mission=True`` adds observation, downlink and download times; see ``_MISSION``).

Targets: a claim of 1,000 under 100 ms (median of several), status under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.model import FileSpec

NOW = datetime(2025, 1, 1, tzinfo=UTC)
CLAIM_BATCH = 1_000
CLAIM_ROUNDS = 9
STATUS_ROUNDS = 9
FILL_CHUNK = 250_000
REGISTER_SPECS = 100_000
#: The PostgreSQL the catalog tests use (tests/adapters/catalog/conftest.py).
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# One row per i: the state cycles over 100 values of i % 100 (see the module docstring).
_COLUMNS = (
    "url, path, dest_root, source, size, state, attempts, next_attempt_at, bytes_done,"
    " created_at, updated_at, downloaded_at, sha256, instrument"
)
_SELECT = """
SELECT 'https://archive.example/bench/' || {i} || '.fits',
       'bench/' || {i} || '.fits',
       '/bench',
       'bench',
       1000 + {i} % 5000,
       CASE WHEN {i} % 100 < 60 THEN 'DOWNLOADED'
            WHEN {i} % 100 < 85 THEN 'DISCOVERED'
            WHEN {i} % 100 < 95 THEN 'FAILED'
            WHEN {i} % 100 < 98 THEN 'ABANDONED'
            ELSE 'IGNORED' END,
       CASE WHEN {i} % 100 < 60 THEN 1 WHEN {i} % 100 < 85 THEN 0 ELSE 2 END,
       CASE WHEN {i} % 100 >= 85 AND {i} % 100 < 95
            THEN CASE WHEN {i} % 2 = 0 THEN {due} ELSE {later} END END,
       CASE WHEN {i} % 100 < 60 THEN 1000 + {i} % 5000 ELSE 0 END,
       {created}, {created},
       CASE WHEN {i} % 100 < 60 THEN {downloaded} END,
       CASE WHEN {i} % 100 < 60 THEN '{sha256}' END,
       'I' || ({i} % 8)
"""
_EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
_TIMES = {
    "sqlite": {
        "due": "'2024-12-31 23:00:00.000000'",
        "later": "'2025-01-01 01:00:00.000000'",
        "created": "'2024-12-01 00:00:00.000000'",
    },
    "postgresql": {
        "due": "timestamptz '2024-12-31 23:00:00+00'",
        "later": "timestamptz '2025-01-01 01:00:00+00'",
        "created": "timestamptz '2024-12-01 00:00:00+00'",
    },
}
_SQLITE_ROWS = (
    " WITH RECURSIVE seq(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM seq WHERE i < :last) "
)
_POSTGRES_ROWS = " FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS s(i)"

# Mission metadata (``fill(..., mission=True)``), in whole seconds after MISSION_START:
# one observation every 31.536 s in id order (1,000,000 rows span 365 days) with up to
# 2 h of jitter, 1 to 31 min long; downlinked 3 to 15 h after it starts, inside one of
# three 4-hour ground-station passes a day (01-05, 09-13, 17-21 UTC), its slot named
# ``<yyyymmdd>-<station>``; a DOWNLOADED file arrived 10 min to a day after its downlink.
MISSION_START = datetime(2024, 1, 1, tzinfo=UTC)
MISSION_STATIONS = ("MLG", "CEB", "NNO")
PASS_PERIOD_S = 8 * 3600
PASS_OFFSET_S = 3600
PASS_LENGTH_S = 4 * 3600
SECONDS_PER_ROW = 31.536
_OBS = f"(i * {round(SECONDS_PER_ROW * 1000)} / 1000 + i * 7919 % 7200)"  # i: the row number
_PASS = f"(({_OBS} + 7200) / {PASS_PERIOD_S} + 1)"
_MISSION = {
    "obs_start": _OBS,
    "obs_end": f"{_OBS} + 60 + i * 13 % 1800",
    "downlink_time": f"{_PASS} * {PASS_PERIOD_S} + {PASS_OFFSET_S} + i * 37 % {PASS_LENGTH_S}",
}
_STATION = (
    f"CASE {_PASS} % 3 WHEN 0 THEN '{MISSION_STATIONS[0]}' "
    f"WHEN 1 THEN '{MISSION_STATIONS[1]}' ELSE '{MISSION_STATIONS[2]}' END"
)
_ARRIVAL = f"{_MISSION['downlink_time']} + 600 + i * 101 % 86400"
# Seconds after the epoch as each database's stored time, and as a day name.
_MOMENT = {
    "sqlite": "strftime('%Y-%m-%d %H:%M:%S.000000', {seconds}, 'unixepoch')",
    "postgresql": "to_timestamp({seconds})",
}
_DAY = {
    "sqlite": "strftime('%Y%m%d', {seconds}, 'unixepoch')",
    "postgresql": "to_char(to_timestamp({seconds}) AT TIME ZONE 'UTC', 'YYYYMMDD')",
}


def _fill_statement(backend: str, *, mission: bool) -> str:
    """The ``INSERT ... SELECT`` of one chunk of rows, ``:first`` to ``:last``."""
    dialect = "postgresql" if backend == "postgresql" else "sqlite"
    times = _TIMES[dialect]
    columns, select, downloaded = _COLUMNS, _SELECT, times["created"]
    if mission:
        epoch = int(MISSION_START.timestamp())

        def moment(seconds: str) -> str:
            return _MOMENT[dialect].format(seconds=f"{epoch} + {seconds}")

        day = _DAY[dialect].format(seconds=f"{epoch} + {_PASS} * {PASS_PERIOD_S}")
        values = [moment(seconds) for seconds in _MISSION.values()]
        values.append(f"{day} || '-' || {_STATION}")
        columns += ", " + ", ".join([*_MISSION, "slot"])
        select = select.rstrip("\n") + ",\n       " + ",\n       ".join(values) + "\n"
        downloaded = moment(_ARRIVAL)
    body = select.format(i="i", sha256=_EMPTY_SHA256, downloaded=downloaded, **times)
    if dialect == "postgresql":
        return f"INSERT INTO files ({columns}) " + body + _POSTGRES_ROWS
    return f"INSERT INTO files ({columns})" + _SQLITE_ROWS + body + " FROM seq"


def run(rows: int = 1_000_000, url: str | None = None) -> dict[str, Any]:
    """Fill a catalog with ``rows`` files, then time claims and status summaries.

    Parameters
    ----------
    rows : int
        Files in the catalog.
    url : str or None
        Catalog URL; None for a throw-away SQLite file under /dev/shm or the temp dir.
        PostgreSQL runs in a throw-away schema of the database named.

    Returns
    -------
    dict
        ``claim_ms`` (median of several claims of 1,000), ``claim_max_ms``,
        ``status_ms`` (median), the fill and register times and the catalog URL.
    """
    with scratch_catalog(url) as (catalog_url, backend):
        catalog = open_catalog(catalog_url)
        try:
            timings = _measure(catalog, rows, backend)
        finally:
            catalog.close()
    return {"rows": rows, **timings, "backend": backend}


def _measure(catalog: Catalog, rows: int, backend: str) -> dict[str, Any]:
    fill_s = _timed(lambda: fill(catalog, rows, backend))
    rebuild_s = _timed(catalog.rebuild_totals)
    claims = []
    for round_ in range(CLAIM_ROUNDS):
        start = time.perf_counter()
        batch = catalog.claim_batch(f"bench-{round_}", CLAIM_BATCH, now=NOW, lease_seconds=60)
        claims.append(time.perf_counter() - start)
        assert len(batch) == min(CLAIM_BATCH, rows), len(batch)
    statuses = []
    for _ in range(STATUS_ROUNDS):
        start = time.perf_counter()
        summary = catalog.status_summary()
        statuses.append(time.perf_counter() - start)
    assert sum(t.count for t in summary.values()) == rows
    specs = [
        FileSpec(url=f"https://archive.example/new/{i}.fits", path=f"new/{i}.fits", size=i)
        for i in range(min(REGISTER_SPECS, rows))
    ]
    register_s = _timed(lambda: catalog.register(specs, "/bench", now=NOW))
    reregister_s = _timed(lambda: catalog.register(specs, "/bench", now=NOW))
    return {
        "claim_ms": round(statistics.median(claims) * 1000, 2),
        "claim_max_ms": round(max(claims) * 1000, 2),
        "status_ms": round(statistics.median(statuses) * 1000, 3),
        "fill_s": round(fill_s, 2),
        "rebuild_totals_s": round(rebuild_s, 2),
        "register_new_s": round(register_s, 2),
        "register_known_s": round(reregister_s, 2),
        "register_specs": len(specs),
    }


def fill(catalog: Catalog, rows: int, backend: str, *, mission: bool = False) -> None:
    """Fill an empty catalog with files 1 to ``rows`` (see the module docstring).

    Parameters
    ----------
    catalog : Catalog
        An empty catalog.
    rows : int
        Files to insert.
    backend : {"sqlite", "postgresql"}
        The catalog's database.
    mission : bool
        Also give every file observation and downlink times and a slot, and every
        DOWNLOADED file its own download time, spread as ``_MISSION`` says.
    """
    engine = catalog._db.engine  # the benchmark fills below the API, for speed
    statement = text(_fill_statement(backend, mission=mission))
    for first in range(1, rows + 1, FILL_CHUNK):
        last = min(rows, first + FILL_CHUNK - 1)
        with engine.begin() as connection:
            connection.execute(statement, {"first": first, "last": last})
    if backend == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("VACUUM ANALYZE files")


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


@contextmanager
def scratch_catalog(url: str | None) -> Iterator[tuple[str, str]]:
    """Yield (catalog URL, backend) for a throw-away catalog, removed afterwards."""
    if url is None:
        shm = Path("/dev/shm")
        with tempfile.TemporaryDirectory(
            prefix="skyhaul-bench-catalog-", dir=shm if shm.is_dir() else None
        ) as directory:
            yield f"sqlite:///{directory}/catalog.db", "sqlite"
        return
    from skyhaul.adapters.catalog import catalog_url

    url = catalog_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        yield url, parsed.get_backend_name()
        return
    import psycopg

    schema = f"skyhaul_bench_{uuid.uuid4().hex[:10]}"
    conninfo = _conninfo(url)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        scoped = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False), "postgresql"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def catalog_backends(postgres: str | None) -> tuple[list[str | None], dict[str, str]]:
    """The catalogs to run on, for :func:`scratch_catalog`, and what is skipped and why.

    Parameters
    ----------
    postgres : str or None
        A PostgreSQL catalog URL, used when its server answers; None: SQLite only.

    Returns
    -------
    tuple
        ``[None]`` (a throw-away SQLite file), plus ``postgres`` when reachable; and
        ``{"postgresql": why}`` when it is not.
    """
    if postgres is None:
        return [None], {}
    import psycopg

    try:
        with psycopg.connect(_conninfo(postgres), connect_timeout=3):
            return [None, postgres], {}
    except psycopg.Error as error:
        why = (str(error).strip() or type(error).__name__).splitlines()[0]
        return [None], {"postgresql": f"not reachable at {make_url(postgres)} ({why})"}


def _conninfo(url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL (for psycopg itself)."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def _print_table(figures: dict[str, Any], url: str | None) -> None:
    where = url or "sqlite (throw-away file)"
    print(f"catalog benchmark: {figures['rows']:,} files on {figures['backend']} ({where})")
    lines = [
        ("fill (INSERT ... SELECT)", f"{figures['fill_s']:.2f} s", ""),
        ("rebuild totals (recount)", f"{figures['rebuild_totals_s']:.2f} s", ""),
        (
            f"claim {CLAIM_BATCH:,} (median of {CLAIM_ROUNDS})",
            f"{figures['claim_ms']:.1f} ms",
            "target < 100 ms",
        ),
        ("claim, slowest", f"{figures['claim_max_ms']:.1f} ms", ""),
        (
            f"status summary (median of {STATUS_ROUNDS})",
            f"{figures['status_ms']:.2f} ms",
            "target < 1 s",
        ),
        (f"register {figures['register_specs']:,} new", f"{figures['register_new_s']:.2f} s", ""),
        (
            f"register {figures['register_specs']:,} known",
            f"{figures['register_known_s']:.2f} s",
            "",
        ),
    ]
    for name, value, target in lines:
        print(f"  {name:<34} {value:>12}  {target}")


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.bench_catalog [--rows N] [--url URL]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="files in the catalog")
    parser.add_argument("--url", default=None, help="catalog URL (default: throw-away SQLite)")
    args = parser.parse_args(argv)
    _print_table(run(args.rows, args.url), args.url)


if __name__ == "__main__":
    main()
