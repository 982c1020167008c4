"""A backfill as a job: queued with the parameters that reproduce it, run, published, ended.

Rules:
- A backfill that runs is a job of kind ``backfill`` (a dry run is none: it touches
  nothing). Its parameters are what the command was given, resolved, and never a
  secret: ``source``, ``config`` (the configuration file read, absolute), ``first`` and
  ``last`` (ISO days), ``retry_failed``, ``limit_days``, ``output_dir`` (absolute) and
  ``format``. Credentials are read again from the source's configuration when it runs.
- It runs through :func:`skyhaul.services.jobs.run_job`: progress (days as files, day
  files as bytes, the day in flight; :class:`~skyhaul.core.dayprogress.DayBoard`) is
  published about once a second from a catalog thread of its own, so publishing never
  waits behind a day's ledger rows, and the cancel flag it reads back sets the run's
  cancel event, as Ctrl-C does.
- It ends succeeded when no day failed, failed when one did or when the range stopped
  (refused credentials, a full disk), and cancelled when it was interrupted; the day in
  progress then stays PENDING, as the backfill's rules say, and :class:`InterruptedRun`
  still reaches the caller (exit 130). The summary is the backfill's JSON, so far.
- ``jobs resume`` runs a requeued backfill job again from its parameters alone
  (:func:`resume_backfill`); the ledger decides which days still need work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.config import SkyhaulConfig, load_config
from skyhaul.adapters.sources.records_api import (
    OUTPUT_FORMATS,
    RECORDS_API,
    OutputFormat,
    RecordsApiSettings,
    RecordsClient,
    records_api_settings,
)
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.errors import InterruptedRun, UsageError
from skyhaul.services.backfill import BackfillRequest, BackfillRun, BackfillSummary
from skyhaul.services.dayfetch import DayFetch
from skyhaul.services.jobs import PUBLISH_EVERY, JobOutcome, create_job, run_job
from skyhaul.services.wiring import async_catalog

__all__ = [
    "LEASE_SECONDS",
    "BackfillJob",
    "backfill_params",
    "prepare_backfill",
    "records_source",
    "resume_backfill",
]

#: The lease of a backfill job; each publish (about once a second) renews it.
LEASE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class BackfillJob:
    """A backfill queued as job ``job_id``; :meth:`run` runs it.

    Parameters
    ----------
    job_id : int
        The queued job.
    settings : RecordsApiSettings
        The source (with its credentials, read from the configuration).
    request : BackfillRequest
        Range, output and options.
    """

    job_id: int
    settings: RecordsApiSettings
    request: BackfillRequest

    async def run(
        self,
        catalog: Catalog,
        *,
        cancel: asyncio.Event,
        client: RecordsClient | None = None,
        on_chunk: Callable[[date, DayFetch], None] | None = None,
        lease_seconds: float = LEASE_SECONDS,
        publish_every: float = PUBLISH_EVERY,
    ) -> BackfillSummary:
        """Run the backfill as its job: start it, publish its progress, end it.

        ``publish_every`` is the seconds between publishes of its progress (tests shorten it).

        Raises
        ------
        InterruptedRun
            ``cancel`` was set (Ctrl-C, or ``skyhaul jobs cancel``): the job ended
            cancelled.
        SourceAuthError, DiskFullError
            The range stopped: the job ended failed.
        UsageError
            The job is not queued.
        """
        run = BackfillRun(self.settings, self.request, on_chunk=on_chunk)
        run.summary.job_id = self.job_id

        async def work() -> InterruptedRun | None:
            try:
                async with async_catalog(catalog) as ledger:
                    await run.run(ledger, cancel=cancel, client=client)
            except InterruptedRun as stopped:
                return stopped  # the job ends cancelled, with the summary so far
            return None

        def outcome(stopped: InterruptedRun | None) -> JobOutcome:
            summary = run.summary
            if stopped is not None:
                state = JobState.CANCELLED
            elif summary.failed:
                state = JobState.FAILED
            else:
                state = JobState.SUCCEEDED
            return JobOutcome(state, summary.as_json())

        stopped = await run_job(
            catalog,
            self.job_id,
            work,
            cancel=cancel,
            progress=run.board.snapshot,
            outcome=outcome,
            lease_seconds=lease_seconds,
            every=publish_every,
        )
        if stopped is not None:
            raise stopped
        return run.summary


def backfill_params(
    source: str, request: BackfillRequest, *, config: Path | None
) -> dict[str, Any]:
    """The job's parameters: what reproduces the backfill (no secret; paths absolute)."""
    return {
        "source": source,
        "config": None if config is None else str(config.resolve()),
        "first": request.first.isoformat(),
        "last": request.last.isoformat(),
        "retry_failed": request.retry_failed,
        "limit_days": request.limit_days,
        "output_dir": str(request.output_dir.resolve()),
        "format": request.output_format,
    }


def prepare_backfill(
    catalog: Catalog,
    settings: RecordsApiSettings,
    request: BackfillRequest,
    *,
    config: Path | None,
) -> BackfillJob:
    """Queue a backfill job for ``request`` of ``settings``' source, read from ``config``.

    Raises
    ------
    UsageError
        ``request`` is a dry run (it must touch nothing, the jobs table included).
    """
    if request.dry_run:
        raise UsageError("a dry run is not a job: it touches nothing")
    params = backfill_params(settings.name, request, config=config)
    return BackfillJob(create_job(catalog, JobKind.BACKFILL, params), settings, request)


def resume_backfill(catalog: Catalog, job_id: int) -> BackfillJob:
    """Rebuild backfill job ``job_id`` from its parameters, to run it again.

    The job must be queued when it runs (``Catalog.requeue_job`` first); the source's
    settings and credentials are read again from the configuration file it names.

    Raises
    ------
    UsageError
        No such job, not a backfill, or parameters that do not describe one.
    ConfigError
        The configuration no longer has the source, or cannot be read.
    """
    job = catalog.get_job(job_id)
    if job is None:
        raise UsageError(f"no job {job_id} in this catalog (see 'skyhaul jobs')")
    if job.kind is not JobKind.BACKFILL:
        raise UsageError(f"job {job_id} is a {job.kind.value} job, not a backfill")
    try:
        source, config, request = _from_params(job.params)
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(
            f"job {job_id}: its parameters do not describe a backfill: {exc}"
        ) from None
    settings, _ = records_source(load_config(config), source)
    return BackfillJob(job_id, settings, request)


def records_source(config: SkyhaulConfig, name: str) -> tuple[RecordsApiSettings, Path]:
    """Read records source ``name`` of ``config``: its settings and its ``dest``.

    Raises
    ------
    ConfigError
        No such source, or a table that is not valid.
    UsageError
        The source is not of type ``records-api``.
    """
    entry = config.source(name)
    if entry.type != RECORDS_API:
        raise UsageError(
            f"{entry.where}: backfill reads sources of type {RECORDS_API}, not {entry.type!r}"
        )
    return records_api_settings(entry), entry.dest


def _from_params(params: Mapping[str, Any]) -> tuple[str, Path | None, BackfillRequest]:
    config = params["config"]
    limit = params["limit_days"]
    if limit is not None and not isinstance(limit, int):
        raise TypeError(f"limit_days must be a whole number, got {limit!r}")
    request = BackfillRequest(
        first=date.fromisoformat(params["first"]),
        last=date.fromisoformat(params["last"]),
        output_dir=Path(params["output_dir"]),
        output_format=_output_format(params["format"]),
        retry_failed=bool(params["retry_failed"]),
        limit_days=limit,
    )
    return str(params["source"]), None if config is None else Path(config), request


def _output_format(text: object) -> OutputFormat:
    for known in OUTPUT_FORMATS:
        if text == known:
            return known
    raise ValueError(f"format {text!r} is not one of {', '.join(OUTPUT_FORMATS)}")
