"""What a worker does on a ``backfill`` message: fetch the claimable days of the job.

``backfill_work(job_id, catalog_url)`` opens the catalog, claims the job's days one at a
time under a lease and fetches each (``services.backfill_queue.work_on_backfill``) until
none is claimable, ends the job if its days are settled, and returns. A duplicate or
redelivered message finds nothing to claim and returns at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from skyhaul.adapters.catalog import open_catalog
from skyhaul.services.backfill_queue import finish_backfill, work_on_backfill

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["BACKFILL_QUEUE", "BACKFILL_WORK", "backfill_work", "publish_backfill"]

log = logging.getLogger("skyhaul.worker")

#: The task's name on the wire.
BACKFILL_WORK = "skyhaul.backfill_work"
#: The queue of backfill days.
BACKFILL_QUEUE = "backfill"


def backfill_work(job_id: int, catalog_url: str) -> dict[str, int]:
    """Fetch what is claimable of backfill job ``job_id``; return this worker's counts."""
    catalog = open_catalog(catalog_url, create=False)
    try:
        summary = work_on_backfill(catalog, job_id)
        finish_backfill(catalog, job_id)
    finally:
        catalog.close()
    days = [] if summary is None else summary.outcomes
    counts = {
        "downloaded": 0 if summary is None else summary.downloaded,
        "no_data": 0 if summary is None else summary.skipped_no_data,
        "failed": 0 if summary is None else summary.failed,
    }
    log.info(
        "backfill job %d: %d days downloaded here (%s)",
        job_id,
        counts["downloaded"],
        " ".join(run.day.isoformat() for run in days) or "none",
    )
    return counts


def publish_backfill(celery: Celery, job_id: int, catalog_url: str, *, copies: int = 1) -> None:
    """Say that backfill job ``job_id`` of the catalog at ``catalog_url`` has days to
    fetch, ``copies`` times: up to that many workers join the job at once."""
    for _ in range(copies):
        celery.send_task(BACKFILL_WORK, args=[job_id, catalog_url], queue=BACKFILL_QUEUE)
