"""Jobs this process runs for an interface that stays up (the web view): their tasks,
their cancel events and their progress as it is now.

Rules:
- A job run here is an asyncio task of the server's loop, registered under its job id
  before it starts, so a viewer never sees it missing between start and first publish.
- Its progress is read from its run at any moment (:meth:`LiveJobs.progress`): a viewer of
  a job run here sees it several times a second, not once per catalog publish.
- Cancel sets the run's own cancel event at once (the same event Ctrl-C sets); a job run
  by another process is cancelled through the catalog's flag (the caller's business).
- :meth:`LiveJobs.aclose` (the server stopping) cancels every run and waits for it: each
  leaves its files resumable and its job cancelled, so ``jobs resume`` goes on.
- A run that raises is logged; its job was already ended by :func:`run_job`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from skyhaul.core.jobprogress import JobProgress

__all__ = ["LiveJobs", "LiveRun"]

log = logging.getLogger("skyhaul.jobs")


@dataclass(slots=True)
class LiveRun:
    """One job running in this process.

    Parameters
    ----------
    job_id : int
        Its job.
    cancel : asyncio.Event
        Set to stop it (files stay resumable).
    progress : callable or None
        Its progress now (None: only what it publishes to the catalog).
    task : asyncio.Task or None
        The task that runs it (set by :meth:`LiveJobs.start`).
    """

    job_id: int
    cancel: asyncio.Event
    progress: Callable[[], JobProgress] | None
    task: asyncio.Task[object] | None = None


class LiveJobs:
    """The jobs run by this process, by job id (the web server holds one)."""

    def __init__(self) -> None:
        self._runs: dict[int, LiveRun] = {}

    def start(
        self,
        job_id: int,
        work: Callable[[asyncio.Event], Awaitable[object]],
        progress: Callable[[], JobProgress] | None,
    ) -> LiveRun:
        """Run ``work(cancel)`` as job ``job_id`` in a task of the running loop.

        Parameters
        ----------
        job_id : int
            The job ``work`` runs (it starts and finishes it).
        work : callable
            Takes the run's cancel event; returns an awaitable of the run.
        progress : callable or None
            The run's progress now (None: viewers read what it publishes).
        """
        cancel = asyncio.Event()
        run = LiveRun(job_id, cancel, progress)
        self._runs[job_id] = run
        run.task = asyncio.ensure_future(self._run(run, work))
        return run

    async def _run(
        self, run: LiveRun, work: Callable[[asyncio.Event], Awaitable[object]]
    ) -> object:
        try:
            return await work(run.cancel)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %d ended with an error", run.job_id)
            return None
        finally:
            # Only this run: the job may already run here again (resumed once it ended).
            if self._runs.get(run.job_id) is run:
                del self._runs[run.job_id]

    def running_here(self, job_id: int) -> bool:
        """Whether job ``job_id`` runs in this process now."""
        return job_id in self._runs

    def progress(self, job_id: int) -> JobProgress | None:
        """The progress of job ``job_id`` now, when it runs here (else None)."""
        run = self._runs.get(job_id)
        if run is None or run.progress is None:
            return None
        try:
            return run.progress()
        except Exception:  # a progress source that fails must not break a viewer
            log.exception("job %d: progress unavailable", job_id)
            return None

    def cancel(self, job_id: int) -> bool:
        """Stop job ``job_id`` when it runs here; return whether it does."""
        run = self._runs.get(job_id)
        if run is None:
            return False
        run.cancel.set()
        return True

    def ids(self) -> list[int]:
        """The jobs running here."""
        return list(self._runs)

    async def wait(self, job_id: int) -> None:
        """Wait until job ``job_id`` no longer runs here."""
        run = self._runs.get(job_id)
        if run is not None and run.task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(run.task)

    async def aclose(self, *, grace: float = 10.0) -> None:
        """Cancel every run and wait (up to ``grace`` seconds) for each to end cleanly."""
        runs = list(self._runs.values())
        for run in runs:
            run.cancel.set()
        tasks = [run.task for run in runs if run.task is not None]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:  # a run that ignores its cancel event: stop it harder
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace)
