"""What a worker does on a message: the message names the work, the catalog hands it out.

``download_work(job_id, catalog_url)`` opens the catalog, runs the engine's claim loop
over the job's files until nothing is claimable (``services.queued.work_on_job``), ends
the job if its files are settled, and returns. A duplicate or redelivered message finds
nothing to claim and returns at once. Every worker shares each host's window and pace
through the broker's Redis (``SKYHAUL_LIMITS_URL`` overrides it).
"""

from __future__ import annotations

import logging
import os

from skyhaul.adapters.catalog import open_catalog
from skyhaul.services.queued import finish_settled, work_on_job

__all__ = ["DOWNLOAD_WORK", "download_work"]

log = logging.getLogger("skyhaul.worker")

#: The task's name on the wire.
DOWNLOAD_WORK = "skyhaul.download_work"


def download_work(job_id: int, catalog_url: str, share: int = 1) -> dict[str, int]:
    """Download what is claimable of job ``job_id``, holding at most a ``share``-th of its
    files left at once (the job was published to that many workers); return this
    worker's counts."""
    catalog = open_catalog(catalog_url, create=False)
    try:
        summary = work_on_job(catalog, job_id, limits_url=_limits_url(), share=share)
        finish_settled(catalog, job_id)
    finally:
        catalog.close()
    log.info("job %d: %d downloaded, %d failed here", job_id, summary.downloaded, summary.failed)
    return {"downloaded": summary.downloaded, "failed": summary.failed}


def _limits_url() -> str | None:
    """The Redis of shared host limits: ``SKYHAUL_LIMITS_URL``, else this worker's broker
    (None, each worker polite on its own, when the broker is not Redis)."""
    from celery import current_app  # the app running the task knows its broker

    url = os.environ.get("SKYHAUL_LIMITS_URL") or current_app.conf.broker_url or ""
    return url if url.startswith(("redis://", "rediss://", "unix://")) else None
