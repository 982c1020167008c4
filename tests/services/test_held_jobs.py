"""Followers of jobs run by workers hold them RUNNING with progress (``held_job``): a
backfill shows its days done/total, a pipeline its operations, then each ends as before."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobs import JobState
from skyhaul.errors import InterruptedRun
from skyhaul.services.backfill import BackfillRequest
from skyhaul.services.backfill_queue import follow_backfill, queue_backfill, work_on_backfill
from skyhaul.services.clock import SYSTEM_CLOCK, Clock
from skyhaul.services.held_job import HeldJob
from skyhaul.services.observatory.queued_ops import (
    PipelineJob,
    follow_step,
    pipeline_progress,
    plan_pipeline,
    queues_with_work,
    submit_pipeline,
    work_on_queue,
)
from skyhaul.services.observatory.stagework import PipelineSettings
from skyhaul.sim.thread import SimThread

from .conftest import settings_for
from .observatory.conftest import make_setup

D1 = date(2024, 1, 1)
D3 = D1 + timedelta(days=2)


def _config(tmp_path: Path, sim: SimThread) -> Path:
    path = tmp_path / "skyhaul.toml"
    path.write_text(
        f"""
[sources.reach]
type = "records-api"
url = "{sim.base_url}api/records"
query = "?sensor={{sensor}}&obTime={{start}}..{{end}}"
params = {{ sensor = "ALL" }}
chunk = "1h"
expected_per_day = "2 * 2 * 1440"
"""
    )
    return path


def test_a_followed_backfill_is_running_with_its_days_then_succeeds(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    config, settings = _config(tmp_path, records_sim), settings_for(records_sim)
    request = BackfillRequest(first=D1, last=D3, output_dir=(tmp_path / "out").resolve())
    first = queue_backfill(
        catalog, settings, replace(request, last=D1), config=config, executor="celery"
    )
    assert work_on_backfill(catalog, first) is not None
    follow_backfill(catalog, first, sleep=lambda s: None)
    job = queue_backfill(catalog, settings, request, config=config, executor="celery")
    seen: list[tuple[JobState, int, int]] = []

    def workers_run(seconds: float) -> None:  # the follower waits: a worker runs then
        record = catalog.get_job(job)
        assert record is not None and record.progress is not None
        seen.append((record.state, record.progress.files_done, record.progress.files_total))
        assert work_on_backfill(catalog, job) is not None, "a held job is still work"

    summary = follow_backfill(catalog, job, sleep=workers_run)
    # Day 1 was done before (the plan skips it); days 2 and 3 remained.
    assert seen == [(JobState.RUNNING, 1, 3)]
    record = catalog.get_job(job)
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.summary == summary.as_json()
    assert (summary.downloaded, summary.skipped_existing, summary.failed) == (2, 1, 0)
    assert record.progress is not None
    assert (record.progress.files_done, record.progress.files_total) == (3, 3)
    assert record.progress.bytes_done > 0, "the day files written count as bytes"


def test_a_cancelled_backfill_ends_cancelled_by_its_follower(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    request = BackfillRequest(first=D1, last=D3, output_dir=(tmp_path / "out").resolve())
    job = queue_backfill(
        catalog, settings_for(records_sim), request, config=_config(tmp_path, records_sim),
        executor="celery",
    )  # fmt: skip

    ticks = [0.0]

    def cancel(seconds: float) -> None:  # ``jobs cancel`` while the follower waits
        ticks[0] += seconds
        assert catalog.request_job_cancel(job, now=SYSTEM_CLOCK.now())

    clock = Clock(monotonic=lambda: ticks[0])
    with pytest.raises(InterruptedRun):
        follow_backfill(catalog, job, sleep=cancel, every=1.0, clock=clock)
    record = catalog.get_job(job)
    assert record is not None and record.state is JobState.CANCELLED
    assert work_on_backfill(catalog, job) is None, "workers see it ended"


def test_a_followed_pipeline_is_running_with_its_operations_then_succeeds(
    catalog: Catalog, tmp_path: Path
) -> None:
    setup = make_setup(catalog, tmp_path / "obs")
    setup.write_files(6)
    settings = PipelineSettings(retention=timedelta(0), max_package_size=4000)
    pipeline = PipelineJob(settings=settings)
    job_id = submit_pipeline(catalog, pipeline, "celery")
    plan_pipeline(catalog, pipeline)  # as the follower does before its first look
    held = HeldJob(catalog, job_id, lambda: pipeline_progress(catalog, job_id))
    looks: list[tuple[JobState, int, int]] = []
    while (state := follow_step(catalog, held)) is None:
        record = catalog.get_job(job_id)
        assert record is not None and record.progress is not None
        looks.append((record.state, record.progress.files_done, record.progress.files_total))
        for work in queues_with_work(catalog, pipeline.kinds):
            assert work_on_queue(catalog, job_id, work).done >= 1, work.queue
    assert {s for s, _, _ in looks} == {JobState.RUNNING}
    assert looks[0][1] == 0 and looks[0][2] > 0, "the first packages planned, none done"
    assert any(0 < done < total for _, done, total in looks), "operations done of a total"
    setup.assert_all_archived_and_cleaned()
    record = catalog.get_job(job_id)
    assert record is not None and record.state is JobState.SUCCEEDED and not state.failures
    assert record.summary == {"operations": state.done, "failures": []}
    assert record.progress is not None
    done = sum(state.done.values())
    assert (record.progress.files_done, record.progress.files_total) == (done, done)
