"""The observatory pipeline in one process: every stage's planner and worker, in turn.

Rules:
- A round runs each stage once, in order (packaging, transfer, verify, archive,
  staging, deletion): its planner (packaging and deletion have one) enqueues new work,
  then its worker claims and settles one batch of its operations (:mod:`.stagework`).
- ``staging`` only runs the STAGE operations ``skyhaul stage`` enqueued (one that a killed
  ``stage`` left, say); it is not among the stages run by default.
- ``once``: rounds go on until one does nothing (no operation done, retried or failed,
  nothing planned), then the run returns. Without it, an idle round waits ``idle_wait``
  seconds (on the clock) before the next, until ``cancel`` is set.
- ``cancel`` stops the run at once: the operation in hand is abandoned, its lease left
  to run out (a rerun on this host takes it over at once: its owner is gone). Every
  step can be run again, so nothing is lost or done twice.
- The summary counts what each stage did in this run and lists what failed for good.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from skyhaul.core.operations import DEFAULT_MAX_RETRIES, OperationKind
from skyhaul.ports.catalog import ObservatoryStore
from skyhaul.services.clock import SYSTEM_CLOCK, Clock
from skyhaul.services.observatory.archiving import archive_package
from skyhaul.services.observatory.deletion import delete_copy, plan_deletions
from skyhaul.services.observatory.packaging import make_package, plan_new_packages
from skyhaul.services.observatory.stagework import (
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MAX_PACKAGE_SIZE,
    Failure,
    Handler,
    PipelineSettings,
    StageContext,
    StageCounts,
    Storages,
    run_operations,
)
from skyhaul.services.observatory.staging import stage_package
from skyhaul.services.observatory.transfer import transfer_package
from skyhaul.services.observatory.verification import verify_at_archive
from skyhaul.services.owners import new_owner

__all__ = [
    "DEFAULT_RETENTION",
    "DEFAULT_STAGES",
    "STAGES",
    "STAGE_NAMES",
    "PipelineSummary",
    "Stage",
    "run_pipeline",
    "run_stage",
]

#: How long source and buffer copies are kept after their archive copy was verified.
DEFAULT_RETENTION = timedelta(hours=24)
#: Seconds an idle pipeline (not ``once``) waits before looking again.
IDLE_WAIT = 5.0


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage: what plans its work (if anything does) and what does it."""

    name: str
    kind: OperationKind
    handler: Handler
    planner: Callable[[StageContext], Awaitable[StageCounts]] | None = None


#: The stages, in the order a round runs them.
STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage("packaging", OperationKind.CREATE_PACKAGE, make_package, plan_new_packages),
        Stage("transfer", OperationKind.TRANSFER, transfer_package),
        Stage("verify", OperationKind.UNPACK_VERIFY, verify_at_archive),
        Stage("archive", OperationKind.ARCHIVE, archive_package),
        Stage("staging", OperationKind.STAGE, stage_package),
        Stage("deletion", OperationKind.DELETE, delete_copy, plan_deletions),
    )
}
#: Their names, in order.
STAGE_NAMES = tuple(STAGES)
#: The stages run when none are named: every one but staging (on demand only).
DEFAULT_STAGES = tuple(name for name in STAGE_NAMES if name != "staging")


@dataclass(slots=True)
class PipelineSummary:
    """What a run did: per stage, operations done (and work planned), retried, failed."""

    stages: dict[str, StageCounts] = field(default_factory=dict)
    rounds: int = 0
    interrupted: bool = False

    @property
    def failures(self) -> list[Failure]:
        """What failed for good in this run."""
        return [failure for counts in self.stages.values() for failure in counts.failures]

    def as_json(self) -> dict[str, object]:
        """The summary as one JSON-ready object."""
        return {
            "rounds": self.rounds,
            "interrupted": self.interrupted,
            "stages": {
                name: {"done": c.done, "retried": c.retried, "failed": len(c.failures)}
                for name, c in self.stages.items()
            },
            "failures": [
                {"kind": f.kind.value, "package": f.package, "error": f.error}
                for f in self.failures
            ],
        }


async def run_stage(ctx: StageContext, stage: Stage) -> StageCounts:
    """One pass of ``stage``: plan, then claim and settle one batch."""
    counts = StageCounts()
    if stage.planner is not None:
        counts.add(await stage.planner(ctx))
    counts.add(await run_operations(ctx, stage.kind, stage.handler))
    return counts


async def run_pipeline(
    catalog: ObservatoryStore,
    stages: Iterable[str] = DEFAULT_STAGES,
    *,
    once: bool,
    retention: timedelta = DEFAULT_RETENTION,
    max_package_size: int = DEFAULT_MAX_PACKAGE_SIZE,
    max_retries: int = DEFAULT_MAX_RETRIES,
    clock: Clock = SYSTEM_CLOCK,
    cancel: asyncio.Event | None = None,
    storages: Storages | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    idle_wait: float = IDLE_WAIT,
    max_rate: float | None = None,
) -> PipelineSummary:
    """Run the pipeline's stages (see the module's rules).

    Parameters
    ----------
    catalog : ObservatoryStore
        The catalog (synchronous; called from worker threads).
    stages : iterable of str
        Names from ``STAGE_NAMES`` (default ``DEFAULT_STAGES``), run in the pipeline's
        order whatever the order given.
    once : bool
        Return once a round does nothing, instead of waiting for more work.
    retention : timedelta
        How long source and buffer copies are kept after the archive copy was verified.
    max_package_size : int
        Most bytes of members per package.
    max_retries : int
        Retries of an operation (re-sends of a package) before it fails for good.
    clock : Clock
        Time for leases, retention and idle waits.
    cancel : asyncio.Event, optional
        Set to stop the run.
    storages : Storages, optional
        Storages of the locations (default: opened from their URLs, closed at the end).
    lease_seconds : float
        The lease of a claimed operation.
    idle_wait : float
        Seconds between idle rounds (without ``once``).
    max_rate : float or None
        Most bytes per second of one transfer (None: no limit).

    Returns
    -------
    PipelineSummary

    Raises
    ------
    ValueError
        For an unknown stage name.
    """
    wanted = set(stages)
    unknown = sorted(wanted - set(STAGE_NAMES))
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)}; use {', '.join(STAGE_NAMES)}")
    chosen = [STAGES[name] for name in STAGE_NAMES if name in wanted]
    settings = PipelineSettings(
        retention, max_package_size, max_retries, lease_seconds, max_rate=max_rate
    )
    own_storages = storages is None
    ctx = StageContext(catalog, storages or Storages(), new_owner(), settings, clock)
    summary = PipelineSummary({stage.name: StageCounts() for stage in chosen})
    stop = cancel or asyncio.Event()
    rounds = asyncio.ensure_future(_rounds(ctx, chosen, summary, once, idle_wait))
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([rounds, stopped], return_when=asyncio.FIRST_COMPLETED)
        if not rounds.done():
            summary.interrupted = True
            rounds.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rounds
    finally:
        for task in (rounds, stopped):
            task.cancel()
        await asyncio.gather(rounds, stopped, return_exceptions=True)
        if own_storages:
            await ctx.storages.aclose()
    return summary


async def _rounds(
    ctx: StageContext, stages: list[Stage], summary: PipelineSummary, once: bool, idle: float
) -> None:
    while True:
        busy = False
        summary.rounds += 1
        for stage in stages:
            counts = await run_stage(ctx, stage)
            summary.stages[stage.name].add(counts)
            busy = busy or counts.busy
        if not busy:
            if once:
                return
            await ctx.clock.sleep(idle)
