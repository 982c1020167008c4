"""``skyhaul pipeline run --executor celery``: the pipeline run by workers on per-location
queues, followed in the catalog.

Rules:
- It queues a PIPELINE job with the run's settings, then, every ``_FOLLOW_EVERY``
  seconds: plans (new packages, deletions) when ``_PLAN_EVERY`` seconds passed (planning
  reads much of the catalog; ``finish_idle`` plans once more before it calls the run
  idle), publishes each
  ``{site}_{location}_{kind}`` queue with work that it has not published in the last
  ``_REPUBLISH_EVERY`` seconds, and ends the job once the run is idle (nothing pending,
  nothing leased). The work itself is :mod:`skyhaul.services.observatory.queued_ops`.
- While it follows, it holds the job RUNNING with its progress (operations done/total;
  ``queued_ops.follow_step``). A detached job stays QUEUED until the manager ends it.
- Exit codes as the one-process pipeline: 0 done; 1 something failed for good in this
  run; 130 on Ctrl-C (the job is given back QUEUED and the workers go on: ``skyhaul
  manager`` keeps the job moving and ends it) or when ``jobs cancel`` cancelled it.
  ``--detach`` prints the job id and exits 0 after the first publish.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.catalog.urls import catalog_url
from skyhaul.cli.common import Terminal
from skyhaul.cli.options import CommonOptions
from skyhaul.cli.worker import CELERY
from skyhaul.errors import InterruptedRun

if TYPE_CHECKING:
    from skyhaul.services.observatory.stagework import PipelineSettings

__all__ = ["follow_pipeline"]

#: Seconds between two looks at the run.
_FOLLOW_EVERY = 0.5
#: Seconds before a queue that still has work is published again.
_REPUBLISH_EVERY = 10.0
#: Seconds between two plannings while the run is busy.
_PLAN_EVERY = 5.0


def follow_pipeline(
    term: Terminal,
    common: CommonOptions,
    catalog: Catalog,
    stages: list[str],
    settings: PipelineSettings,
    *,
    broker: str | None,
    detach: bool,
) -> int:
    """Queue a pipeline job, publish its work, follow it unless ``detach``; return the
    exit code."""
    from skyhaul.services.held_job import HeldJob
    from skyhaul.services.observatory.queued_ops import (
        PipelineJob,
        QueueWork,
        follow_step,
        pipeline_progress,
        plan_pipeline,
        queues_with_work,
        submit_pipeline,
    )
    from skyhaul.worker.app import make_app
    from skyhaul.worker.pipeline_tasks import publish_operations

    job = PipelineJob(tuple(stages), settings)
    job_id = submit_pipeline(catalog, job, CELERY)
    celery, url = make_app(broker), catalog_url(common.catalog)
    published: dict[QueueWork, float] = {}

    def publish_new() -> None:
        now = time.monotonic()
        for work in queues_with_work(catalog, job.kinds):
            if now - published.get(work, -_REPUBLISH_EVERY) >= _REPUBLISH_EVERY:
                publish_operations(celery, job_id, url, work)
                published[work] = now

    planned = time.monotonic()
    plan_pipeline(catalog, job)
    publish_new()
    if detach:
        term.out.print(str(job_id), highlight=False)
        return 0
    held = HeldJob(catalog, job_id, lambda: pipeline_progress(catalog, job_id))
    try:
        while (state := follow_step(catalog, held)) is None:
            time.sleep(_FOLLOW_EVERY)
            if time.monotonic() - planned >= _PLAN_EVERY:
                planned = time.monotonic()
                plan_pipeline(catalog, job)
            publish_new()
    except KeyboardInterrupt:
        held.release()
        raise InterruptedRun(
            f"stopped following pipeline job {job_id}; the workers go on with it"
        ) from None
    if term.json:
        term.emit_json(
            {
                "job": job_id,
                "operations": state.done,
                "failures": [
                    {"kind": f.kind.value, "package": f.package, "error": f.error}
                    for f in state.failures
                ],
            }
        )
    else:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(state.done.items()))
        term.out.print(f"pipeline job {job_id}: {counts or 'nothing to do'}", highlight=False)
        for failure in state.failures:
            term.out.print(
                Text(
                    f"failed: {failure.kind.value} {failure.package or '-'}: {failure.error}",
                    style="bold red",
                )
            )
    return 1 if state.failures else 0
