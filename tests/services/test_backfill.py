"""Backfill against the simulator's records API: ledger, decisions, outputs, rate limits."""

from __future__ import annotations

import asyncio
import csv
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.sources.records_api import RecordsApiSettings
from skyhaul.core.backfill import Action, DayStatus
from skyhaul.errors import InterruptedRun, SourceAuthError
from skyhaul.services.backfill import BackfillRequest, backfill
from skyhaul.sim.thread import SimThread

from .conftest import PER_DAY, RECORDS, set_records, settings_for

D1 = date(2024, 1, 1)


def run(
    catalog: Catalog,
    settings: RecordsApiSettings,
    out: Path,
    last: date = D1 + timedelta(days=2),
    **options: object,
) -> object:
    request = BackfillRequest(first=D1, last=last, output_dir=out, **options)  # type: ignore[arg-type]
    return asyncio.run(backfill(catalog, settings, request))


def requests_made(sim: SimThread) -> int:
    return sim.stats.snapshot().records_requests


def test_three_days_land_complete_in_time_order_with_a_ledger(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    summary = run(catalog, settings_for(records_sim), tmp_path)
    assert (summary.downloaded, summary.failed) == (3, 0)  # type: ignore[attr-defined]
    latest = catalog.latest_day_runs("reach", D1, D1 + timedelta(days=2))
    assert {run.status for run in latest.values()} == {DayStatus.DOWNLOADED}
    first = latest[D1]
    assert first.records == PER_DAY and first.availability == pytest.approx(100.0)
    assert first.requests == 24 and first.throttled == 0
    with Path(first.path or "").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == PER_DAY
    times = [row["obTime"] for row in rows]
    assert times == sorted(times)
    assert times[0].startswith("2024-01-01T00:00:00") and times[-1].startswith("2024-01-01T23:59")
    # One PENDING and one DOWNLOADED row per day, all stamped with the same run id.
    rows_written = catalog.day_runs("reach")
    assert [r.status for r in rows_written].count(DayStatus.PENDING) == 3
    assert len({r.run_id for r in rows_written}) == 1
    left = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("catalog.db"))
    assert left == [f"reach_2024-01-0{d}.csv" for d in (1, 2, 3)], "no temporary, no spool"


def test_a_second_run_skips_intact_days_without_a_request(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    settings = settings_for(records_sim)
    run(catalog, settings, tmp_path)
    before = requests_made(records_sim)
    again = run(catalog, settings, tmp_path)
    assert again.skipped_existing == 3 and again.downloaded == 0  # type: ignore[attr-defined]
    assert requests_made(records_sim) == before


def test_a_changed_or_missing_artifact_is_fetched_again(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    settings = settings_for(records_sim)
    run(catalog, settings, tmp_path)
    latest = catalog.latest_day_runs("reach", D1, D1 + timedelta(days=2))
    changed = Path(latest[D1].path or "")
    changed.write_text(changed.read_text().replace("REACH", "XEACH", 1))
    Path(latest[D1 + timedelta(days=2)].path or "").unlink()
    again = run(catalog, settings, tmp_path)
    assert [p.action for p in again.plan] == [  # type: ignore[attr-defined]
        Action.RUN,
        Action.SKIP_EXISTING,
        Action.RUN,
    ]
    assert again.downloaded == 2  # type: ignore[attr-defined]
    assert "XEACH" not in changed.read_text()


def test_no_data_is_a_terminal_skip_and_a_bad_payload_a_failure(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    day2, day3 = D1 + timedelta(days=1), D1 + timedelta(days=2)
    set_records(records_sim, replace(RECORDS, no_data_days=(day2,), malformed_days=(day3,)))
    settings = settings_for(records_sim)
    summary = run(catalog, settings, tmp_path)
    assert (summary.downloaded, summary.skipped_no_data, summary.failed) == (1, 1, 1)  # type: ignore[attr-defined]
    latest = catalog.latest_day_runs("reach", D1, day3)
    assert latest[day2].status is DayStatus.SKIPPED_NO_DATA
    assert latest[day2].availability == 0.0
    assert latest[day3].status is DayStatus.FAILED
    assert latest[day3].error_type == "PayloadError"
    assert not list(tmp_path.glob(f"reach_{day2}*")) and not list(tmp_path.glob(f"reach_{day3}*"))

    # The archive is fixed: FAILED days wait for --retry-failed; no-data days stay skipped.
    set_records(records_sim, RECORDS)
    again = run(catalog, settings, tmp_path)
    assert [p.action for p in again.plan] == [  # type: ignore[attr-defined]
        Action.SKIP_EXISTING,
        Action.SKIP_NO_DATA,
        Action.SKIP_FAILED,
    ]
    retried = run(catalog, settings, tmp_path, retry_failed=True)
    assert retried.downloaded == 1 and retried.failed == 0  # type: ignore[attr-defined]
    assert catalog.latest_day_runs("reach", day3, day3)[day3].status is DayStatus.DOWNLOADED


def test_an_http_error_fails_the_day_and_the_range_goes_on(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    settings = settings_for(records_sim, params={"sensor": "NO-SUCH-SENSOR"}, attempts=2)
    summary = run(catalog, settings, tmp_path, last=D1 + timedelta(days=1))
    assert summary.failed == 2  # type: ignore[attr-defined]
    failures = catalog.latest_day_runs("reach", D1, D1 + timedelta(days=1))
    assert {r.error_type for r in failures.values()} == {"ClientError"}
    assert all("400" in (r.error_message or "") for r in failures.values())


def test_json_and_parquet_outputs(records_sim: SimThread, catalog: Catalog, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    settings = settings_for(records_sim)
    run(catalog, settings, tmp_path / "j", last=D1, output_format="json")
    document = json.loads((tmp_path / "j" / f"reach_{D1}.json").read_text())
    assert len(document) == PER_DAY
    run(
        catalog,
        replace(settings, name="reach-pq"),
        tmp_path / "p",
        last=D1,
        output_format="parquet",
    )
    table = pq.read_table(tmp_path / "p" / f"reach-pq_{D1}.parquet")
    assert table.num_rows == PER_DAY


def test_refused_credentials_stop_the_range_and_leave_the_day_pending(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    set_records(records_sim, replace(RECORDS, token="s3cret-token"))
    wrong = settings_for(records_sim, authorization="Bearer wrong")
    with pytest.raises(SourceAuthError) as raised:
        run(catalog, wrong, tmp_path)
    assert "s3cret" not in str(raised.value) and "wrong" not in str(raised.value)
    latest = catalog.latest_day_runs("reach", D1, D1 + timedelta(days=2))
    # Not the day's fault: it stays PENDING and the next run redoes it, no --retry-failed.
    assert list(latest) == [D1] and latest[D1].status is DayStatus.PENDING
    right = settings_for(records_sim, authorization="Bearer s3cret-token")
    summary = run(catalog, right, tmp_path)
    assert summary.downloaded == 3  # type: ignore[attr-defined]


def test_under_a_20_per_second_limit_no_day_fails_and_few_requests_are_refused(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    """The issue's acceptance test: default settings, a limit of 20 requests/s."""
    set_records(records_sim, replace(RECORDS, rate=20.0, burst=5))
    settings = settings_for(records_sim, chunk=timedelta(minutes=10))  # 144 requests a day
    summary = run(catalog, settings, tmp_path, last=D1 + timedelta(days=1))
    stats = records_sim.stats.snapshot()
    assert summary.failed == 0 and summary.downloaded == 2  # type: ignore[attr-defined]
    assert stats.records_requests == summary.requests  # type: ignore[attr-defined]
    assert stats.records_throttled == summary.throttled  # type: ignore[attr-defined]
    assert stats.records_throttled < 0.10 * stats.records_requests, stats


def test_cancel_leaves_the_day_pending_and_the_next_run_redoes_it(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    set_records(records_sim, replace(RECORDS, rate=10.0, burst=0))
    settings = settings_for(records_sim, chunk=timedelta(minutes=20))  # 72 requests a day

    async def interrupted() -> None:
        cancel = asyncio.Event()
        request = BackfillRequest(first=D1, last=D1, output_dir=tmp_path)
        task = asyncio.ensure_future(backfill(catalog, settings, request, cancel=cancel))
        deadline = asyncio.get_running_loop().time() + 30
        while requests_made(records_sim) < 5:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        cancel.set()
        with pytest.raises(InterruptedRun):
            await task

    asyncio.run(interrupted())
    assert catalog.latest_day_runs("reach", D1, D1)[D1].status is DayStatus.PENDING
    assert not list(tmp_path.glob("reach_*"))
    set_records(records_sim, RECORDS)
    summary = run(catalog, settings, tmp_path, last=D1)
    assert summary.downloaded == 1  # type: ignore[attr-defined]


def test_dry_run_touches_nothing(records_sim: SimThread, catalog: Catalog, tmp_path: Path) -> None:
    summary = run(catalog, settings_for(records_sim), tmp_path / "out", dry_run=True, limit_days=2)
    assert [p.action for p in summary.plan] == [Action.RUN, Action.RUN]  # type: ignore[attr-defined]
    assert requests_made(records_sim) == 0
    assert catalog.day_runs() == []
    assert not (tmp_path / "out").exists()


def test_progress_is_reported_after_every_chunk(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    seen: list[tuple[date, int, int]] = []
    request = BackfillRequest(first=D1, last=D1 + timedelta(days=1), output_dir=tmp_path)
    asyncio.run(
        backfill(
            catalog,
            settings_for(records_sim),
            request,
            on_chunk=lambda day, counts: seen.append((day, counts.chunks_done, counts.chunks)),
        )
    )
    assert [s for s in seen if s[0] == D1] == [(D1, n, 24) for n in range(1, 25)]
    assert len(seen) == 48


def test_ledger_times_come_from_the_injected_clock(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    moment = datetime(2030, 5, 5, tzinfo=UTC)
    request = BackfillRequest(first=D1, last=D1, output_dir=tmp_path)
    asyncio.run(backfill(catalog, settings_for(records_sim), request, now=lambda: moment))
    rows = catalog.day_runs("reach")
    assert {r.started_at for r in rows} == {moment}
    assert rows[-1].finished_at == moment
