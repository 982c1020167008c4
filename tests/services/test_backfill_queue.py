"""Backfill jobs run by workers, in process (the Celery side is tests/worker): the plan as
day claims, a worker that claims and fetches days, duplicates, the summary, the range that
stops, against the simulator's records API and a SQLite catalog."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.backfill import DayStatus
from skyhaul.core.jobs import JobState
from skyhaul.errors import RangeStoppedError
from skyhaul.services.backfill import BackfillRequest
from skyhaul.services.backfill_queue import (
    backfill_jobs_with_work,
    follow_backfill,
    queue_backfill,
    republish_backfills,
    work_on_backfill,
)
from skyhaul.services.clock import SYSTEM_CLOCK
from skyhaul.sim.thread import SimThread

from .conftest import RECORDS, set_records, settings_for

D1 = date(2024, 1, 1)
D3 = D1 + timedelta(days=2)


def _config(tmp_path: Path, sim: SimThread, token: str | None = None) -> Path:
    path = tmp_path / "skyhaul.toml"
    auth = 'token_env = "REACH_TOKEN"' if token else ""
    path.write_text(
        f"""
[sources.reach]
type = "records-api"
url = "{sim.base_url}api/records"
query = "?sensor={{sensor}}&obTime={{start}}..{{end}}"
params = {{ sensor = "ALL" }}
chunk = "1h"
expected_per_day = "2 * 2 * 1440"
{auth}
"""
    )
    return path


def _never(seconds: float) -> None:
    raise AssertionError("followed a job that was already settled")


def test_a_worker_fetches_every_planned_day_and_a_duplicate_finds_nothing(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    config = _config(tmp_path, records_sim)
    request = BackfillRequest(first=D1, last=D3, output_dir=(tmp_path / "out").resolve())
    # Day 1 is done before: the plan skips it, and only days 2 and 3 are claims to run.
    first = queue_backfill(
        catalog, settings_for(records_sim), replace(request, last=D1), config=config,
        executor="celery",
    )  # fmt: skip
    assert work_on_backfill(catalog, first) is not None
    assert follow_backfill(catalog, first, sleep=_never).downloaded == 1
    job = queue_backfill(
        catalog, settings_for(records_sim), request, config=config, executor="celery"
    )
    assert backfill_jobs_with_work(catalog, "celery", now=SYSTEM_CLOCK.now()) == [job]
    done = work_on_backfill(catalog, job)
    assert done is not None and [r.day for r in done.outcomes] == [D1 + timedelta(1), D3]
    again = work_on_backfill(catalog, job)
    assert again is not None and again.outcomes == [], "a duplicate message finds no day"
    assert backfill_jobs_with_work(catalog, "celery", now=SYSTEM_CLOCK.now()) == []
    summary = follow_backfill(catalog, job, sleep=_never)
    assert (summary.downloaded, summary.skipped_existing, summary.failed) == (2, 1, 0)
    assert summary.requests == 48 and summary.job_id == job
    statuses = [r.status for r in catalog.day_runs("reach")]
    assert statuses == [DayStatus.PENDING, DayStatus.DOWNLOADED] * 3, "each day fetched once"
    record = catalog.get_job(job)
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.summary == summary.as_json()
    assert work_on_backfill(catalog, job) is None, "an ended job is no work"


def test_refused_credentials_stop_the_range_and_the_follower_exits_2(
    records_sim: SimThread,
    catalog: Catalog,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_records(records_sim, replace(RECORDS, token="the-real-one"))
    monkeypatch.setenv("REACH_TOKEN", "a-wrong-one")
    config = _config(tmp_path, records_sim, token="a-wrong-one")
    request = BackfillRequest(first=D1, last=D3, output_dir=(tmp_path / "out").resolve())
    # The worker reads the source (and the token's variable) from the configuration.
    job = queue_backfill(
        catalog, settings_for(records_sim), request, config=config, executor="celery"
    )
    work_on_backfill(catalog, job)
    record = catalog.get_job(job)
    assert record is not None and record.state is JobState.FAILED
    assert record.error is not None and record.error.startswith("SourceAuthError")
    with pytest.raises(RangeStoppedError, match="SourceAuthError") as stopped:
        follow_backfill(catalog, job, sleep=_never)
    assert stopped.value.exit_code == 2
    assert "a-wrong-one" not in str(stopped.value)
    published: list[int] = []
    assert republish_backfills(catalog, "celery", published.append) == [] == published
