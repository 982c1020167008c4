"""``skyhaul worker``, ``skyhaul manager`` and ``get --executor celery``: jobs run by
Celery workers over Redis, with the catalog (PostgreSQL) as the single source of truth.

Rules:
- ``worker`` runs a Celery worker in this process (prefork pool) on the given queues;
  ``--locations SITE/NAME,...`` adds every observatory operation queue of those
  locations (``{site}_{location}_{kind}``): list only storage this machine reaches.
- ``manager`` publishes ``download_work`` again, on its kind's queue, for every queued
  or running celery job that still has files to do, and ``backfill_work`` for every
  backfill job with a day unclaimed or whose lease expired, every ``--interval`` seconds
  (or once): a lost message costs latency, never data, and a needless one finds nothing
  to claim. Unless ``--once``, it also stewards (``services.job_steward``) every celery
  job nobody follows: detached ones, and those whose follower died (backfills and
  pipelines through ``services.held_followers``); it publishes their progress each second
  and ends them. Each round also plans every
  queued celery pipeline job and publishes each ``{site}_{location}_{kind}`` queue with
  pending operations or expired leases
  (:func:`skyhaul.services.observatory.queued_ops.manager_round`).
- ``get --executor celery`` registers the job's files, takes the job as its steward,
  publishes one message (``--messages N``: N messages, so up to N workers join the job
  at once), then stewards the job (progress each second, cancel honoured) until its
  files are settled; it exits like ``get`` (0 all downloaded, 1 otherwise). With
  ``--detach`` it prints the job id and exits 0; the manager stewards the job. A
  follower stopped by Ctrl-C leaves the job to the manager too.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.catalog.urls import catalog_url
from skyhaul.cli.common import Terminal, opened_catalog, start
from skyhaul.cli.execution import CELERY, BrokerOption, Execution, configured_broker, submit
from skyhaul.cli.options import CommonOptions, build_common, with_options
from skyhaul.core.jobs import JobKind
from skyhaul.core.model import FileSpec, TransferOptions
from skyhaul.core.opqueues import location_queues
from skyhaul.core.sites import parse_location_ref
from skyhaul.errors import UsageError

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["CELERY", "manager", "submit_get", "worker"]


@with_options(common=build_common)
def worker(
    queues: Annotated[
        str, typer.Option("--queues", "-Q", metavar="Q1,Q2", help="Queues to listen on.")
    ] = "downloads",
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Worker child processes.")
    ] = 2,
    broker: BrokerOption = None,
    locations: Annotated[
        str | None,
        typer.Option(
            "--locations",
            metavar="SITE/NAME,...",
            help="Also listen on every pipeline operation queue of these locations.",
            show_default=False,
        ),
    ] = None,
    *,
    common: CommonOptions,
) -> None:
    """Run a Celery worker that downloads the jobs published on its queues."""
    start(common)
    if locations is not None:
        queues = ",".join([*queues.split(","), *_location_queues(locations)])
    from skyhaul.worker.app import broker_url, make_app
    from skyhaul.worker.health import keep_alive

    broker = configured_broker(broker)

    stop = keep_alive(broker_url(broker), "worker", queues.split(","))
    try:
        _run_worker(make_app(broker), queues, concurrency)
    finally:
        stop()


def _location_queues(text: str) -> list[str]:
    """Every operation queue of the ``SITE/NAME`` locations listed in ``text``."""
    try:
        refs = [parse_location_ref(ref.strip()) for ref in text.split(",") if ref.strip()]
    except ValueError as error:
        raise UsageError(f"--locations: {error}") from None
    return [queue for site, name in refs for queue in location_queues(site, name)]


def _run_worker(celery: Celery, queues: str, concurrency: int) -> None:
    celery.worker_main(
        [
            "worker",
            "-P",
            "prefork",
            "-c",
            str(concurrency),
            "-Q",
            queues,
            "--without-mingle",
            "--without-gossip",
            "-l",
            "INFO",
        ]
    )


@with_options(common=build_common)
def manager(
    broker: BrokerOption = None,
    once: Annotated[bool, typer.Option("--once", help="Publish once and exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, metavar="S", help="Seconds between rounds.")
    ] = 30.0,
    *,
    common: CommonOptions,
) -> None:
    """Publish again the work of every queued celery job that still has files to do."""
    term = start(common)
    from skyhaul.services.backfill_queue import republish_backfills
    from skyhaul.services.held_followers import HELD_FOLLOWERS
    from skyhaul.services.job_steward import Stewards
    from skyhaul.services.jobs import PUBLISH_EVERY
    from skyhaul.services.observatory.queued_ops import manager_round
    from skyhaul.services.queued import FILE_JOB_KINDS, finish_settled, jobs_with_work
    from skyhaul.worker.app import broker_url, make_app, publish_download, queue_of
    from skyhaul.worker.backfill_tasks import publish_backfill
    from skyhaul.worker.health import keep_alive
    from skyhaul.worker.pipeline_tasks import publish_operations

    broker = configured_broker(broker)
    celery = make_app(broker)
    url = catalog_url(common.catalog)
    stop = keep_alive(broker_url(broker), "manager")
    with contextlib.ExitStack() as running:
        running.callback(stop)
        catalog = running.enter_context(opened_catalog(common))
        # A job nobody follows (detached, or its follower died) is stewarded here.
        stewards = None if once else Stewards(catalog, CELERY, followers=HELD_FOLLOWERS)
        published = -interval

        def publish(job_id: int, kind: JobKind) -> None:
            _publish(term, partial(publish_download, celery, job_id, url, queue=queue_of(kind)))

        def republish_everything() -> None:
            jobs = jobs_with_work(catalog, CELERY)
            for job_id, kind in jobs.items():
                publish(job_id, kind)
                finish_settled(catalog, job_id)
            term.err.print(f"{len(jobs)} jobs with work published", highlight=False)
            republish_backfills(catalog, CELERY, lambda job: publish_backfill(celery, job, url))
            sent = manager_round(
                catalog, CELERY, lambda job, work: publish_operations(celery, job, url, work)
            )
            term.err.print(f"{sent} pipeline queues with work published", highlight=False)

        while True:
            if stewards is not None:
                for job_id, kind in stewards.adopt().items():
                    if kind in FILE_JOB_KINDS:  # the others' work is published each round
                        publish(job_id, kind)
                stewards.step()
            if once or time.monotonic() - published >= interval:
                published = time.monotonic()
                _publish(term, republish_everything)
            if once:
                return
            time.sleep(min(interval, PUBLISH_EVERY))


def _publish(term: Terminal, publish: Callable[[], None]) -> None:
    """Publish; a broker that is down (restarting) costs this round, not the manager."""
    from kombu.exceptions import KombuError

    try:
        publish()
    except (KombuError, OSError) as exc:
        term.err.print(f"broker unavailable, publishing next round: {exc}", highlight=False)


def submit_get(
    term: Terminal,
    common: CommonOptions,
    catalog: Catalog,
    specs: Sequence[FileSpec],
    dest_root: str,
    transfer: TransferOptions,
    *,
    broker: str | None,
    detach: bool,
    messages: int = 1,
) -> int:
    """Queue a ``get`` job for the workers, publish it, follow it unless ``detach``;
    return the exit code."""
    from skyhaul.services.queued import queue_get

    job_id, _ = queue_get(catalog, specs, dest_root, transfer, params={"executor": CELERY})
    execution = Execution(CELERY, broker, detach=detach, messages=messages)
    return submit(term, common, catalog, job_id, JobKind.GET, execution)
