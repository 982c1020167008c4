"""``skyhaul jobs``: list the runs, show one (live with ``--follow``), cancel one.

Rules:
- Every command first marks running jobs whose lease expired interrupted (their process
  died), so what it shows is never a dead job still "running".
- ``skyhaul jobs [--state S]... [--limit N]`` lists jobs newest first; ``--json`` prints a
  list of job documents (:meth:`~skyhaul.core.jobs.JobRecord.as_json`).
- ``skyhaul jobs show ID`` prints one job: parameters, progress, files in flight, summary.
  With ``--follow`` it prints one progress line a second until the job ends, then its
  summary line, and exits as the job's own command would have: 0 succeeded, 1 failed,
  130 cancelled or interrupted (Ctrl-C on the follower exits 130 too). With ``--json``
  the lines go to stderr and the final document to stdout.
- ``skyhaul jobs resume ID`` queues a failed, cancelled or interrupted ``get``,
  ``import``, ``download``, ``backfill`` or watch-cycle job again and runs it here, as
  its own command did: the same job, its own files, selection, window or days, its own
  options (credentials read again from the source's configuration), the same exit codes.
- ``skyhaul jobs cancel ID`` sets the cancel flag of a running job (its process, wherever
  it runs, stops within 2 s and leaves every file resumable) or cancels a queued one at
  once. An unknown or already finished job is one line on stderr and exit code 2.
- Options given before a command (``skyhaul jobs --catalog URL show 3``) apply to it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from skyhaul.adapters.catalog import Catalog
from skyhaul.cli.common import Terminal, catalog_location, opened_catalog, start
from skyhaul.cli.options import CommonOptions, build_common, build_progress, with_options
from skyhaul.cli.sources import ConfigOption, build_config, source_for_download
from skyhaul.cli.transfer import download_and_report
from skyhaul.core.jobparams import options_from_json, selection_from_json
from skyhaul.core.jobprogress import JobProgress, progress_line
from skyhaul.core.jobs import JobKind, JobRecord, JobState
from skyhaul.core.model import Selection
from skyhaul.core.timeparse import parse_utc
from skyhaul.core.units import format_duration, format_size
from skyhaul.errors import UsageError

__all__ = ["follow_job", "jobs_app"]

DEFAULT_LIMIT = 50
#: Seconds between two lines of ``show --follow``.
FOLLOW_INTERVAL = 1.0
#: Exit code of ``show --follow`` for each way a job ends (as its own command would exit).
FOLLOW_EXIT = {
    JobState.SUCCEEDED: 0,
    JobState.FAILED: 1,
    JobState.CANCELLED: 130,
    JobState.INTERRUPTED: 130,
}

jobs_app = typer.Typer(name="jobs", invoke_without_command=True, no_args_is_help=False)

JobId = Annotated[int, typer.Argument(metavar="ID", help="The job's id.", show_default=False)]


@jobs_app.callback()
@with_options(common=build_common)
def jobs(
    ctx: typer.Context,
    state: Annotated[
        list[JobState] | None,
        typer.Option(
            "--state",
            "-s",
            case_sensitive=False,
            help="Only jobs in this state (repeat for several).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="Most jobs to list.")] = (
        DEFAULT_LIMIT
    ),
    *,
    common: CommonOptions,
) -> None:
    """List jobs (get, import, download, backfill, watch cycle) newest first; show, cancel,
    resume one."""
    if ctx.invoked_subcommand is not None:
        if state:
            raise UsageError(f"--state lists jobs; it does not go with '{ctx.invoked_subcommand}'")
        ctx.obj = common
        return
    term = start(common)
    with opened_catalog(common, create=False) as catalog:
        _recover(catalog)
        records = catalog.list_jobs(states=state, limit=limit)
    if term.json:
        term.emit_json([record.as_json() for record in records])
        return
    if not records:
        term.out.print("no jobs" + (" in that state" if state else ""), highlight=False)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("ID", "Kind", "State", "Done", "Files", "Bytes", "Speed", "Started (UTC)"):
        table.add_column(name, justify="right" if name in ("ID", "Done", "Speed") else "left")
    for record in records:
        table.add_row(*_row(record))
    _print(term, table)


@jobs_app.command("show")
@with_options(common=build_common)
def show(
    ctx: typer.Context,
    job_id: JobId,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Print a progress line each second until the job ends; exit 0 if it "
            "succeeded, 1 if it failed, 130 if it was cancelled or interrupted.",
        ),
    ] = False,
    *,
    common: CommonOptions,
) -> None:
    """Show one job: parameters, progress, files in flight, summary."""
    term = start(_inherited(ctx, common))
    with opened_catalog(term.options, create=False) as catalog:
        record = _read(catalog, job_id)
        if follow:
            lines = term.err if term.json else term.out
            record = follow_job(
                lambda: _read(catalog, job_id),
                lambda job: lines.print(Text(_follow_line(job)), soft_wrap=True),
                first=record,
            )
    if term.json:
        term.emit_json(record.as_json())
    elif follow:
        term.out.print(Text(_ended_line(record)))
    else:
        _print_detail(term, record)
    if follow:
        raise typer.Exit(FOLLOW_EXIT[record.state])


@jobs_app.command("cancel")
@with_options(common=build_common)
def cancel(ctx: typer.Context, job_id: JobId, *, common: CommonOptions) -> None:
    """Stop a job: a running one within 2 s (its files stay resumable), a queued one at once."""
    term = start(_inherited(ctx, common))
    with opened_catalog(term.options, create=False) as catalog:
        before = _read(catalog, job_id)
        if before.finished or not catalog.request_job_cancel(job_id, now=_now()):
            after = _read(catalog, job_id)  # it may have ended since it was read
            raise UsageError(f"job {job_id} already {after.state.value}: nothing to cancel")
        after = _read(catalog, job_id)
    if term.json:
        term.emit_json(
            {"id": job_id, "state": after.state.value, "cancel_requested": after.cancel_requested}
        )
    elif before.state is JobState.QUEUED and after.state is JobState.CANCELLED:
        term.out.print(f"job {job_id} cancelled (it had not started)", highlight=False)
    else:
        where = f" on {before.owner}" if before.owner else ""
        term.out.print(
            Text(
                f"job {job_id} ({before.kind.value}{where}): cancel requested; it stops "
                "within 2 s and its files stay resumable"
            )
        )


@jobs_app.command("resume")
@with_options(common=build_common, progress=build_progress, config=build_config)
def resume(
    ctx: typer.Context,
    job_id: JobId,
    *,
    common: CommonOptions,
    progress: bool,
    config: ConfigOption,
) -> None:
    """Run a failed, cancelled or interrupted job again: its own selection and options."""
    term = start(_inherited(ctx, common))
    # Imported here: the engine pulls in aiohttp, which the other jobs commands never need.
    from skyhaul.services.runs import resume_download

    with opened_catalog(term.options, create=False) as catalog:
        job = _read(catalog, job_id)
        if job.kind is JobKind.BACKFILL:
            raise typer.Exit(_resume_backfill(term, catalog, job))
        if job.kind not in (JobKind.GET, JobKind.IMPORT, JobKind.DOWNLOAD, JobKind.WATCH_CYCLE):
            raise UsageError(f"job {job_id} is a {job.kind.value} job: it does not resume")
        options = options_from_json(job.params.get("options", {}))
        recorded = job.params.get("config")
        if config.path is None and isinstance(recorded, str):
            config = ConfigOption(Path(recorded))
        if job.kind is JobKind.WATCH_CYCLE:
            selection, discover = _cycle_selection(job), True
        else:
            selection = selection_from_json(job.params.get("selection", {}))
            discover = bool(job.params.get("discover"))
        options, discovery = source_for_download(config, selection, options, discover=discover)
        run = resume_download(catalog, job, discovery=discovery, credentials=options.credentials)
        dest_root = job.params.get("dest_root")
        code = download_and_report(
            term,
            run,
            show_progress=progress,
            catalog_at=catalog_location(term.options),
            files_at=dest_root if isinstance(dest_root, str) else None,
        )
    raise typer.Exit(code)


def _cycle_selection(job: JobRecord) -> Selection:
    """A watch cycle's window as the selection a download lists and takes again."""
    params = job.params
    try:
        start, end = parse_utc(params["start"]), parse_utc(params["end"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"job {job.id}: its parameters do not describe a cycle: {exc}") from None
    selection = Selection(source=params.get("source"), instrument=params.get("instrument"))
    if params.get("by") == "downlink":
        return replace(selection, downlink_start=start, downlink_end=end)
    return replace(selection, obs_start=start, obs_end=end)


def _resume_backfill(term: Terminal, catalog: Catalog, job: JobRecord) -> int:
    """Run a backfill job again from its parameters; return the exit code."""
    from skyhaul.cli.backfill import report_backfill
    from skyhaul.services.backfill_job import resume_backfill
    from skyhaul.services.cancellation import run_cancellable
    from skyhaul.services.jobs import requeue

    again = resume_backfill(catalog, job.id)  # its configuration is read before it queues
    requeue(catalog, job)
    summary = run_cancellable(lambda cancel: again.run(catalog, cancel=cancel))
    report_backfill(term, summary)
    return 1 if summary.failed else 0


def follow_job(
    read: Callable[[], JobRecord],
    emit: Callable[[JobRecord], None],
    *,
    first: JobRecord | None = None,
    interval: float = FOLLOW_INTERVAL,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> JobRecord:
    """Emit a job every ``interval`` seconds until it is finished; return its last record.

    Parameters
    ----------
    read : callable
        Returns the job as it is now.
    emit : callable
        Called with each record of the unfinished job (one line each).
    first : JobRecord, optional
        The job as already read (saves the first read).
    interval : float
        Seconds between emits, kept on a schedule (a slow read does not add up).
    sleep, clock : callable
        ``time.sleep`` and ``time.monotonic`` (tests pass fakes).
    """
    record = read() if first is None else first
    due = clock()
    while not record.finished:
        emit(record)
        due += interval
        sleep(max(0.0, due - clock()))
        record = read()
    return record


# --- reading ------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _recover(catalog: Catalog) -> None:
    from skyhaul.services.jobs import recover_jobs

    recover_jobs(catalog)


def _read(catalog: Catalog, job_id: int) -> JobRecord:
    """The job now (a dead one shown interrupted); a usage error when there is none."""
    _recover(catalog)
    record = catalog.get_job(job_id)
    if record is None:
        raise UsageError(f"no job {job_id} in this catalog (see 'skyhaul jobs')")
    return record


def _inherited(ctx: typer.Context, own: CommonOptions) -> CommonOptions:
    """A command's options, with those given before it (``jobs --json show 3``)."""
    parent = ctx.obj
    if not isinstance(parent, CommonOptions):
        return own
    return dataclasses.replace(
        own,
        catalog=own.catalog or parent.catalog,
        json=own.json or parent.json,
        verbose=own.verbose or parent.verbose,
    )


# --- drawing ------------------------------------------------------------------------------

#: Columns a table may take when stdout is no terminal: rows stay whole lines in a pipe.
PIPE_WIDTH = 200


def _print(term: Terminal, renderable: Table) -> None:
    if not term.out.is_terminal:  # rich assumes 80 columns there, and would wrap rows
        term.out.width = max(term.out.width, PIPE_WIDTH)
    term.out.print(renderable)


def _row(record: JobRecord) -> list[str]:
    """A job as a row of the list: id, kind, state, done, files, bytes, speed, started."""
    started = _when(record.started_at)
    progress = record.progress
    head = [str(record.id), record.kind.value, _state(record)]
    if progress is None:
        return [*head, "", "", "", "", started]
    speed = _speed(progress.speed) if record.state is JobState.RUNNING else ""
    files = f"{progress.files_done:,}/{progress.files_total:,}"
    return [*head, _percent(progress), files, _amount(progress), speed, started]


def _state(record: JobRecord) -> str:
    if record.state is JobState.RUNNING and record.cancel_requested:
        return "cancelling"  # running, asked to stop
    return record.state.value


def _percent(progress: JobProgress) -> str:
    if progress.bytes_total:
        return f"{100 * progress.bytes_done / progress.bytes_total:.0f}%"
    if progress.files_total:
        return f"{100 * progress.files_done / progress.files_total:.0f}%"
    return ""


def _amount(progress: JobProgress) -> str:
    if progress.bytes_total is None:
        return format_size(progress.bytes_done)
    return f"{format_size(progress.bytes_done)} / {format_size(progress.bytes_total)}"


def _speed(speed: float) -> str:
    return f"{format_size(round(speed))}/s"


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _follow_line(record: JobRecord) -> str:
    """One line of ``--follow``: the time, the job's state, and its progress."""
    clock = datetime.now(UTC).strftime("%H:%M:%S")
    text = f"{clock} job {record.id} {_state(record)}"
    if record.progress is not None:
        text += f": {progress_line(record.progress)}"
    return text


def _ended_line(record: JobRecord) -> str:
    """The last line of ``--follow``: how the job ended, after how long, and its summary."""
    text = f"job {record.id} {record.state.value}"
    if record.started_at is not None and record.finished_at is not None:
        took = (record.finished_at - record.started_at).total_seconds()
        text += f" after {format_duration(took)}"
    details = _summary_text(record.summary) if record.summary else ""
    if record.error:
        details = f"{details}; {record.error}" if details else record.error
    return f"{text}: {details}" if details else text


def _summary_text(summary: Mapping[str, Any]) -> str:
    """A summary's scalar entries in a few words (lists and objects are left to --json)."""
    parts = []
    for key, value in summary.items():
        if isinstance(value, bool):
            if value:
                parts.append(key)
        elif key == "bytes" and isinstance(value, int):
            parts.append(format_size(value))
        elif key == "seconds" and isinstance(value, int | float):
            parts.append(f"in {format_duration(value)}")
        elif isinstance(value, int):
            parts.append(f"{value:,} {key}")
        elif isinstance(value, float | str):
            parts.append(f"{key} {value}")
    return ", ".join(parts)


def _print_detail(term: Terminal, record: JobRecord) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    owner = f" on {record.owner}" if record.owner else ""
    grid.add_row("job", Text(f"{record.id} {record.kind.value}, {_state(record)}{owner}"))
    grid.add_row("params", Text(json.dumps(dict(record.params), sort_keys=True)))
    for label, value in (
        ("created", record.created_at),
        ("started", record.started_at),
        ("finished", record.finished_at),
    ):
        if value is not None:
            grid.add_row(label, _when(value) + " UTC")
    if record.progress is not None:
        age = ""
        if record.progress_at is not None and not record.finished:
            seconds = max(0.0, (_now() - record.progress_at).total_seconds())
            age = f" ({format_duration(seconds)} ago)"
        grid.add_row("progress", Text(progress_line(record.progress) + age))
    if record.summary:
        grid.add_row("summary", Text(_summary_text(record.summary)))
    if record.error:
        grid.add_row("error", Text(record.error))
    _print(term, grid)
    if record.progress is None or not record.progress.in_flight or record.finished:
        return
    table = Table(title="In flight", title_justify="left", box=None, header_style="bold")
    for name in ("File", "Done", "Speed", "Source"):
        table.add_column(name, justify="right" if name in ("Done", "Speed") else "left")
    for item in record.progress.in_flight:
        done = format_size(item.bytes_done)
        if item.bytes_total is not None:
            done += f" / {format_size(item.bytes_total)}"
        table.add_row(Text(item.name), done, _speed(item.speed), item.source or "")
    _print(term, table)
