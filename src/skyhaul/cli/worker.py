"""``skyhaul worker``, ``skyhaul manager`` and ``get --executor celery``: jobs run by
Celery workers over Redis, with the catalog (PostgreSQL) as the single source of truth.

Rules:
- ``worker`` runs a Celery worker in this process (prefork pool) on the given queues;
  ``--locations SITE/NAME,...`` adds every observatory operation queue of those
  locations (``{site}_{location}_{kind}``): list only storage this machine reaches.
- ``manager`` publishes ``download_work`` again for every queued celery job that still
  has files to do, every ``--interval`` seconds (or once): a lost message costs latency,
  never data, and a needless one finds nothing to claim. Each round also plans every
  queued celery pipeline job and publishes each ``{site}_{location}_{kind}`` queue with
  pending operations or expired leases
  (:func:`skyhaul.services.observatory.queued_ops.manager_round`).
- ``get --executor celery`` registers the job's files, publishes one message, then
  follows the job in the catalog (``--messages N``: N messages, so
  up to N workers join the job at once) until its files are settled; it exits like ``get``
  (0 all downloaded, 1 otherwise). With ``--detach`` it prints the job id and exits 0.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.catalog.urls import catalog_url
from skyhaul.cli.common import Terminal, opened_catalog, start
from skyhaul.cli.options import CommonOptions, build_common, with_options
from skyhaul.core.model import FileSpec, TransferOptions
from skyhaul.core.opqueues import location_queues
from skyhaul.core.sites import parse_location_ref
from skyhaul.errors import UsageError

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["CELERY", "manager", "submit_get", "worker"]

#: The executor name jobs record (``params["executor"]``).
CELERY = "celery"
#: Seconds between two looks at a followed job.
_FOLLOW_EVERY = 0.2

BrokerOption = Annotated[
    str | None,
    typer.Option(
        "--broker",
        envvar="SKYHAUL_BROKER",
        metavar="URL",
        help="Celery broker (redis://HOST:PORT/DB).",
        show_default=False,
    ),
]


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
    from skyhaul.services.observatory.queued_ops import manager_round
    from skyhaul.services.queued import finish_settled, jobs_with_work
    from skyhaul.worker.app import broker_url, make_app, publish_download
    from skyhaul.worker.health import keep_alive
    from skyhaul.worker.pipeline_tasks import publish_operations

    celery = make_app(broker)
    url = catalog_url(common.catalog)
    stop = keep_alive(broker_url(broker), "manager")
    with contextlib.ExitStack() as running:
        running.callback(stop)
        catalog = running.enter_context(opened_catalog(common))
        while True:
            jobs = jobs_with_work(catalog, CELERY)
            for job_id in jobs:
                publish_download(celery, job_id, url)
                finish_settled(catalog, job_id)
            term.err.print(f"{len(jobs)} jobs with work published", highlight=False)
            sent = manager_round(
                catalog, CELERY, lambda job, work: publish_operations(celery, job, url, work)
            )
            term.err.print(f"{sent} pipeline queues with work published", highlight=False)
            if once:
                return
            time.sleep(interval)


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
    from skyhaul.services.queued import finish_settled, is_settled, queue_get
    from skyhaul.worker.app import make_app, publish_download

    job_id, _ = queue_get(catalog, specs, dest_root, transfer, params={"executor": CELERY})
    publish_download(make_app(broker), job_id, catalog_url(common.catalog), copies=messages)
    if detach:
        term.out.print(str(job_id), highlight=False)
        return 0
    while not is_settled(catalog.job_file_states(job_id)):
        time.sleep(_FOLLOW_EVERY)
    finish_settled(catalog, job_id)
    states = {s.value.lower(): n for s, n in sorted(catalog.job_file_states(job_id).items())}
    if term.json:
        term.emit_json({"job": job_id, "files": states})
    else:
        counts = ", ".join(f"{count:,} {state}" for state, count in states.items())
        term.out.print(f"job {job_id}: {counts or 'no files'}", highlight=False)
    done = set(states) <= {"downloaded", "ignored"}
    return 0 if done else 1
