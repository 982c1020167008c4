"""What a worker does on a message of an observatory queue ``{site}_{location}_{kind}``.

``operation_work(job_id, site, location, kind, catalog_url)`` opens the catalog, claims
and runs operations of that kind whose home is that location until none is claimable
(``services.observatory.queued_ops.work_on_queue``: leases, heartbeats, the failure
policy), and returns. A duplicate or redelivered message finds nothing to claim.

When it completed something, the operations that follow (a TRANSFER after a package was
made, ...) are new work on other queues: it publishes those queues at once, so a run goes
on without waiting for the manager's next round (the manager still republishes whatever
a lost message left).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.operations import OperationKind
from skyhaul.services.observatory.queued_ops import (
    PipelineJob,
    QueueWork,
    queues_with_work,
    work_on_queue,
)

if TYPE_CHECKING:
    from celery import Celery, Task

__all__ = ["OPERATION_WORK", "operation_work", "publish_operations", "register"]

log = logging.getLogger("skyhaul.worker")

#: The task's name on the wire.
OPERATION_WORK = "skyhaul.operation_work"


def publish_operations(celery: Celery, job_id: int, catalog_url: str, work: QueueWork) -> None:
    """Say that job ``job_id`` has operations to do on ``work``'s queue."""
    args = [job_id, work.site, work.location, work.kind.value, catalog_url]
    celery.send_task(OPERATION_WORK, args=args, queue=work.queue)


def operation_work(
    task: Task, job_id: int, site: str, location: str, kind: str, catalog_url: str
) -> dict[str, int]:
    """Run what is claimable on queue ``site_location_kind``; return this worker's counts."""
    work = QueueWork(site, location, OperationKind(kind))
    catalog = open_catalog(catalog_url, create=False)
    try:
        counts = work_on_queue(catalog, job_id, work)
        record = catalog.get_job(job_id) if counts.done else None
        if record is not None:
            for follow in queues_with_work(catalog, PipelineJob.from_params(record.params).kinds):
                publish_operations(task.app, job_id, catalog_url, follow)
    finally:
        catalog.close()
    log.info(
        "queue %s: %d done, %d retried, %d failed",
        work.queue,
        counts.done,
        counts.retried,
        len(counts.failures),
    )
    return {"done": counts.done, "retried": counts.retried, "failed": len(counts.failures)}


def register(celery: Celery) -> None:
    """Register the observatory task on ``celery`` (its queue is chosen per message)."""
    celery.task(name=OPERATION_WORK, bind=True)(operation_work)
