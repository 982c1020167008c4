"""The manager holds detached backfill and pipeline jobs (``held_followers``): each shows
RUNNING with progress while workers run it, then ends as its submitter would end it."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.services.backfill import BackfillRequest
from skyhaul.services.backfill_queue import queue_backfill, work_on_backfill
from skyhaul.services.clock import SYSTEM_CLOCK
from skyhaul.services.held_followers import HELD_FOLLOWERS
from skyhaul.services.job_steward import Stewards
from skyhaul.services.observatory.queued_ops import (
    PipelineJob,
    plan_pipeline,
    queues_with_work,
    submit_pipeline,
    work_on_queue,
)
from skyhaul.services.observatory.stagework import PipelineSettings
from skyhaul.sim.thread import SimThread

from .conftest import settings_for
from .observatory.conftest import make_setup
from .test_held_jobs import _config

D1 = date(2024, 1, 1)


def test_a_detached_backfill_is_held_running_by_the_manager_then_succeeds(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    request = BackfillRequest(
        first=D1, last=D1 + timedelta(days=1), output_dir=(tmp_path / "out").resolve()
    )
    job = queue_backfill(
        catalog, settings_for(records_sim), request, config=_config(tmp_path, records_sim),
        executor="celery",
    )  # fmt: skip
    manager = Stewards(catalog, "celery", followers=HELD_FOLLOWERS)
    assert manager.adopt() == {job: JobKind.BACKFILL}
    assert manager.step() == {}, "nothing done yet: it goes on"
    record = catalog.get_job(job)
    assert record is not None and record.state is JobState.RUNNING
    assert record.progress is not None
    assert (record.progress.files_done, record.progress.files_total) == (0, 2)
    assert work_on_backfill(catalog, job) is not None, "a held job is work for workers"
    assert manager.step() == {job: JobState.SUCCEEDED}
    record = catalog.get_job(job)
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.summary is not None and record.summary["downloaded"] == 2


def test_a_detached_backfill_cancelled_is_ended_cancelled_by_the_manager(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    request = BackfillRequest(first=D1, last=D1, output_dir=(tmp_path / "out").resolve())
    job = queue_backfill(
        catalog, settings_for(records_sim), request, config=_config(tmp_path, records_sim),
        executor="celery",
    )  # fmt: skip
    manager = Stewards(catalog, "celery", followers=HELD_FOLLOWERS)
    assert list(manager.adopt()) == [job]
    assert catalog.request_job_cancel(job, now=SYSTEM_CLOCK.now())
    assert manager.step() == {job: JobState.CANCELLED}
    assert work_on_backfill(catalog, job) is None, "workers see it ended"


def test_a_detached_pipeline_is_held_running_by_the_manager_then_succeeds(
    catalog: Catalog, tmp_path: Path
) -> None:
    setup = make_setup(catalog, tmp_path / "obs")
    setup.write_files(6)
    pipeline = PipelineJob(settings=PipelineSettings(retention=timedelta(0), max_package_size=4000))
    job_id = submit_pipeline(catalog, pipeline, "celery")
    plan_pipeline(catalog, pipeline)  # the manager's round plans it
    manager = Stewards(catalog, "celery", followers=HELD_FOLLOWERS)
    assert manager.adopt() == {job_id: JobKind.PIPELINE}
    seen: set[JobState] = set()
    for _ in range(50):
        ended = manager.step()
        if ended:
            break
        record = catalog.get_job(job_id)
        assert record is not None and record.progress is not None
        seen.add(record.state)
        for work in queues_with_work(catalog, pipeline.kinds):
            work_on_queue(catalog, job_id, work)
    assert ended == {job_id: JobState.SUCCEEDED}
    assert seen == {JobState.RUNNING}
    setup.assert_all_archived_and_cleaned()


def test_other_kinds_are_left_alone(catalog: Catalog) -> None:
    """Without a follower for its kind, a job is not adopted (the default is none)."""
    pipeline = PipelineJob(settings=PipelineSettings(retention=timedelta(0)))
    submit_pipeline(catalog, pipeline, "celery")
    assert Stewards(catalog, "celery").adopt() == {}
