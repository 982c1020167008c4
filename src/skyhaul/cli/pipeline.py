"""``skyhaul pipeline run``: the observatory pipeline's stages in this process.

Rules:
- The work is :func:`skyhaul.services.observatory.pipeline.run_pipeline`; this module
  parses the options and renders the summary (one line per stage, then what failed for
  good; ``--json``: the summary as one object).
- ``--once`` runs every stage until nothing is left to do; without it the pipeline keeps
  looking for new work until Ctrl-C or SIGTERM.
- ``--stages`` defaults to every stage but ``staging``, which runs the STAGE operations
  ``skyhaul stage`` left (it stages on demand only).
- Exit code: 0 done; 1 when something failed for good in this run; 130 when
  interrupted (a rerun takes over what was in hand: nothing is lost or done twice).
- ``--lease`` (how long a claimed operation is held before another worker may take it
  over) and ``--max-rate`` (bytes per second of one transfer) apply to both executors.
- ``--executor celery`` runs the stages by workers on per-location queues instead, and
  follows the run until it is idle, with the same exit codes
  (:mod:`skyhaul.cli.pipeline_queued`); ``--detach`` returns at once with the job id.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from skyhaul.cli.common import opened_catalog, start
from skyhaul.cli.execution import Execution, build_execution
from skyhaul.cli.options import CommonOptions, build_common, with_options
from skyhaul.core.units import parse_duration, parse_size
from skyhaul.errors import InterruptedRun

if TYPE_CHECKING:
    from skyhaul.services.observatory.pipeline import PipelineSummary

__all__ = ["pipeline_app", "run"]

logger = logging.getLogger("skyhaul.cli")

pipeline_app = typer.Typer(
    name="pipeline",
    help="Move raw data: package, transfer, verify, archive, delete.",
    no_args_is_help=True,
    add_completion=False,
)


@pipeline_app.callback()
def pipeline() -> None:
    """Move raw data: package, transfer, verify, archive, delete."""


#: The default stages (``DEFAULT_STAGES``; the services are imported only when a run starts).
_STAGES = "packaging,transfer,verify,archive,deletion"


def _retention(text: str) -> timedelta:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--retention") from None
    if seconds < 0:
        raise typer.BadParameter(f"{text!r} must not be negative", param_hint="--retention")
    return timedelta(seconds=seconds)


def _size(text: str, hint: str) -> int:
    try:
        size = parse_size(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None
    if size < 1:
        raise typer.BadParameter(f"{text!r} must be at least 1 byte", param_hint=hint)
    return size


def _lease(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--lease") from None
    if seconds <= 0:
        raise typer.BadParameter(f"{text!r} must be positive", param_hint="--lease")
    return seconds


@pipeline_app.command("run")
@with_options(common=build_common, execution=build_execution)
def run(
    once: Annotated[bool, typer.Option("--once", help="Stop once nothing is left to do.")] = False,
    stages: Annotated[
        str,
        typer.Option(
            help="Stages to run, comma-separated (staging: what skyhaul stage left).",
            metavar="STAGES",
        ),
    ] = _STAGES,
    retention: Annotated[
        str,
        typer.Option(
            help="Keep source and buffer copies this long after the archive copy was verified.",
            metavar="DURATION",
        ),
    ] = "24h",
    max_package_size: Annotated[
        str, typer.Option(help="Most bytes of members per package.", metavar="SIZE")
    ] = "50GB",
    max_retries: Annotated[
        int, typer.Option(min=0, help="Retries of an operation before it fails for good.")
    ] = 3,
    lease: Annotated[
        str,
        typer.Option(
            help="Lease of a claimed operation (another worker takes it over after).",
            metavar="DURATION",
        ),
    ] = "120s",
    max_rate: Annotated[
        str | None,
        typer.Option(
            help="Most bytes per second of one transfer (e.g. 50MB).",
            metavar="SIZE",
            show_default="no limit",
        ),
    ] = None,
    *,
    common: CommonOptions,
    execution: Execution,
) -> None:
    """Run the observatory pipeline's stages (every one by default)."""
    term = start(common)
    from skyhaul.services.cancellation import run_cancellable
    from skyhaul.services.observatory.pipeline import STAGE_NAMES, run_pipeline

    chosen = [name.strip() for name in stages.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(STAGE_NAMES))
    if unknown or not chosen:
        raise typer.BadParameter(
            f"unknown stage(s) {', '.join(unknown) or '(none)'}; use {', '.join(STAGE_NAMES)}",
            param_hint="--stages",
        )
    kept = _retention(retention)
    size = _size(max_package_size, "--max-package-size")
    lease_seconds = _lease(lease)
    rate = None if max_rate is None else float(_size(max_rate, "--max-rate"))
    execution = execution.resolve()
    if execution.celery:
        from skyhaul.cli.pipeline_queued import follow_pipeline
        from skyhaul.services.observatory.stagework import PipelineSettings

        settings = PipelineSettings(kept, size, max_retries, lease_seconds, max_rate=rate)
        with opened_catalog(common) as catalog:
            code = follow_pipeline(
                term,
                common,
                catalog,
                chosen,
                settings,
                broker=execution.broker,
                detach=execution.detach,
            )
        raise typer.Exit(code)

    def notice(signal_name: str) -> None:
        logger.warning("%s: stopping; a rerun takes over what was in hand", signal_name)

    with opened_catalog(common) as catalog:

        async def job(cancel: asyncio.Event) -> PipelineSummary:
            return await run_pipeline(
                catalog,
                chosen,
                once=once,
                retention=kept,
                max_package_size=size,
                max_retries=max_retries,
                cancel=cancel,
                lease_seconds=lease_seconds,
                max_rate=rate,
            )

        summary = run_cancellable(job, on_cancel=notice)
    if term.json:
        term.emit_json(summary.as_json())
    else:
        for name, counts in summary.stages.items():
            term.out.print(
                f"{name}: {counts.done} done, {counts.retried} retried, "
                f"{len(counts.failures)} failed"
            )
        for failure in summary.failures:
            term.out.print(
                Text(
                    f"failed: {failure.kind.value} {failure.package or '-'}: {failure.error}",
                    style="bold red",
                )
            )
    if summary.interrupted:
        raise InterruptedRun("interrupted; run skyhaul pipeline run again to finish")
    raise typer.Exit(1 if summary.failures else 0)
