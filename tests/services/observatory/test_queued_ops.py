"""The pipeline as queued work, driven in this process as workers would be: the manager's
round plans and names the queues with work, a queue's pass runs only its location's
operations, and the job ends once the run is idle (``queued_ops``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobs import JobState
from skyhaul.core.operations import OperationKind
from skyhaul.services.observatory.queued_ops import (
    PipelineJob,
    QueueWork,
    manager_round,
    submit_pipeline,
    work_on_queue,
)
from skyhaul.services.observatory.stagework import PipelineSettings

from .conftest import make_setup


def _round(catalog: Catalog) -> list[tuple[int, QueueWork]]:
    sent: list[tuple[int, QueueWork]] = []
    manager_round(catalog, "celery", lambda job, work: sent.append((job, work)))
    return sent


def test_queued_work_runs_the_pipeline_queue_by_queue(catalog: Catalog, tmp_path: Path) -> None:
    setup = make_setup(catalog, tmp_path / "obs")
    setup.write_files(6)
    settings = PipelineSettings(retention=timedelta(0), max_package_size=4000)
    job_id = submit_pipeline(catalog, PipelineJob(settings=settings), "celery")
    record = catalog.get_job(job_id)
    assert record is not None and PipelineJob.from_params(record.params).settings == settings

    first = _round(catalog)
    assert [(job, work.queue) for job, work in first] == [(job_id, "obs_raw_create_package")]
    packages = len(catalog.packages())
    assert packages > 1
    # Packages are made at the source: the archive's queue of that kind has nothing.
    wrong = QueueWork("dc1", "lta", OperationKind.CREATE_PACKAGE)
    assert work_on_queue(catalog, job_id, wrong).done == 0
    seen: list[str] = []
    work = first
    while work:
        for job, queue in work:
            seen.append(queue.queue)
            assert work_on_queue(catalog, job, queue).done >= 1, queue.queue
        work = _round(catalog)

    assert seen == [
        "obs_raw_create_package",
        "obs_buf1_transfer",
        "dc1_lta_unpack_verify",
        "dc1_lta_archive",
        "obs_buf1_delete",
        "obs_raw_delete",
    ]
    setup.assert_all_archived_and_cleaned()
    job = catalog.get_job(job_id)
    assert job is not None and job.state is JobState.SUCCEEDED
    assert job.summary is not None and job.summary["operations"]["transfer"] == packages
    # A message of a finished job runs nothing.
    assert work_on_queue(catalog, job_id, first[0][1]).done == 0
