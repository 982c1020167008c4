"""The Celery application of skyhaul's workers, built from a broker URL.

Rules:
- A message only says "work is available"; the catalog decides who works (claims are
  compare-and-set with leases), so duplicate and redelivered messages are harmless and
  correctness never depends on the broker's visibility timeout.
- ``task_acks_late`` with ``task_reject_on_worker_lost``: a message is acknowledged
  after its task, and one whose worker died is delivered again. Attempts are capped in the
  catalog per file, not by Celery's retries, so a task that kills its worker cannot loop
  for ever over the same file.
- ``worker_prefetch_multiplier=1``: a task may run for hours, a worker holds one at a time.
- No result backend: results live in the catalog.
- One queue per kind of job (``queue_of``): ``downloads`` for ``get`` and ``download``
  jobs, ``imports`` for MAST imports, so a worker serves the kinds whose queues it
  listens on (``-Q downloads,imports``). Every kind runs the same task,
  ``download_work``: the claim loop over the job's linked files with its recorded
  options; the queue, not the task, says who serves it.
- The broker comes from ``--broker`` or ``SKYHAUL_BROKER``; the visibility timeout from
  ``SKYHAUL_VISIBILITY_TIMEOUT`` (seconds, longer than any task; overdue messages are
  looked for every third of it, 10 s at most), the hard time limit of a task from
  ``SKYHAUL_TASK_TIME_LIMIT``. ``celery -A skyhaul.worker.app:app worker`` uses
  the module's ``app``, built from the environment.
"""

from __future__ import annotations

import os

from celery import Celery

from skyhaul.core.jobs import JobKind
from skyhaul.worker import pipeline_tasks
from skyhaul.worker.backfill_tasks import BACKFILL_QUEUE, BACKFILL_WORK, backfill_work
from skyhaul.worker.tasks import DOWNLOAD_WORK, download_work

__all__ = [
    "DEFAULT_BROKER",
    "DOWNLOADS_QUEUE",
    "IMPORTS_QUEUE",
    "app",
    "broker_url",
    "make_app",
    "publish_download",
    "queue_of",
]

#: Where the broker is when nothing says otherwise.
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
#: The queue of download jobs.
DOWNLOADS_QUEUE = "downloads"
#: The queue of import jobs (MAST observations; their files mostly come from S3).
IMPORTS_QUEUE = "imports"
#: Kinds with a queue of their own; the others (get, download) go to ``downloads``.
_QUEUES = {JobKind.IMPORT: IMPORTS_QUEUE}
#: Seconds before Redis delivers an unacknowledged message again: longer than any task.
DEFAULT_VISIBILITY_TIMEOUT = 12 * 3600.0
#: Seconds a task may run before its worker child is killed (and the message redelivered).
DEFAULT_TIME_LIMIT = 6 * 3600.0


def broker_url(given: str | None = None) -> str:
    """The broker URL: ``given``, else ``SKYHAUL_BROKER``, else the local Redis."""
    return given or os.environ.get("SKYHAUL_BROKER") or DEFAULT_BROKER


def make_app(
    broker: str | None = None,
    *,
    visibility_timeout: float | None = None,
    time_limit: float | None = None,
) -> Celery:
    """Build the Celery application on ``broker`` with the settings above.

    Parameters
    ----------
    broker : str or None
        Broker URL (``redis://HOST:PORT/DB``); None reads :func:`broker_url`.
    visibility_timeout, time_limit : float or None
        Seconds; None reads the environment, else the defaults.
    """
    env = os.environ
    visibility = visibility_timeout or float(
        env.get("SKYHAUL_VISIBILITY_TIMEOUT", DEFAULT_VISIBILITY_TIMEOUT)
    )
    limit = time_limit or float(env.get("SKYHAUL_TASK_TIME_LIMIT", DEFAULT_TIME_LIMIT))
    celery = Celery("skyhaul", broker=broker_url(broker), set_as_current=False)
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={
            "visibility_timeout": visibility,
            # kombu looks for overdue messages every 10 x 10 s by default: a short
            # visibility timeout (tests) would wait that long. One cheap ZRANGE each
            # sweep, so sweep every few seconds, and at least every 10 s.
            "unacked_restore_interval": max(1.0, min(10.0, visibility / 3)),
            "unacked_restore_throttle": 1,
        },
        task_time_limit=limit,
        task_ignore_result=True,
        result_backend=None,
        task_default_queue=DOWNLOADS_QUEUE,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    celery.task(name=DOWNLOAD_WORK, queue=DOWNLOADS_QUEUE)(download_work)
    celery.task(name=BACKFILL_WORK, queue=BACKFILL_QUEUE)(backfill_work)
    pipeline_tasks.register(celery)  # observatory operations, on {site}_{location}_{kind}
    return celery


def queue_of(kind: JobKind) -> str:
    """The queue jobs of ``kind`` are published on."""
    return _QUEUES.get(kind, DOWNLOADS_QUEUE)


def publish_download(
    celery: Celery,
    job_id: int,
    catalog_url: str,
    *,
    copies: int = 1,
    queue: str = DOWNLOADS_QUEUE,
) -> None:
    """Say on ``queue`` that job ``job_id`` of the catalog at ``catalog_url`` has
    downloads to do, ``copies`` times: up to that many workers join the job at once, each
    holding at most its share (``copies``) of the job's files left to do."""
    share = {"share": copies} if copies > 1 else {}
    for _ in range(copies):
        celery.send_task(DOWNLOAD_WORK, args=[job_id, catalog_url], kwargs=share, queue=queue)


#: The application ``celery -A skyhaul.worker.app:app`` runs (broker from the environment).
app = make_app()
