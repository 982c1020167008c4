"""The download engine: claims files from the catalog and runs their transfers.

Rules:
- The catalog is the source of truth: files are claimed in batches by compare-and-set,
  held under a lease renewed by a heartbeat while the run lives, and every outcome is a
  lifecycle transition (DOWNLOADED, FAILED with its next attempt time, ABANDONED).
- The engine sees the catalog through its ports (``Claims``, ``SegmentMap``), reads
  bytes through ``Transports`` (chosen per URL scheme) and writes them through ``Sinks``;
  it builds none of them. Time comes from its ``Clock``.
- At most ``concurrency`` files are in flight; each request to a host also passes that
  host's adaptive gate, so several large files share one polite window. Given shared
  ``limits``, that gate is shared with every other worker as well (window, pace and the
  decisions stored in the catalog: ``services.shared_gate``); without, no Redis at all.
- A failed attempt is classified by its error type and the retry policy decides: FAILED
  with a backoff delay (the run waits for it, ``options.max_wait`` at most) or ABANDONED.
  The run ends when nothing in its selection is eligible now or within that wait.
- An error a transfer did not expect is still one of ours by the time it is recorded: a
  refused path is a client error, an OS error a disk error, anything else an internal
  error; each logged in one line, its traceback only at DEBUG (``-v``).
- Cancellation (the ``cancel`` event) stops in-flight requests, makes their progress
  durable and releases every held file back to DISCOVERED: all of it resumable.
- A full disk stops the whole run (``DiskFullError``), and so does a transport that cannot
  be configured (``ConfigError``): other files would fail the same way.
- An ABANDONED file keeps no bytes on disk: its part file is deleted (and its segments
  forgotten) once the catalog has it ABANDONED.
- Anything else that fails for one file fails that file only, setting up its transfer
  included: a row holding a value no attempt can use (a checksum that does not parse, a
  path that escapes) is a permanent client error; any other error there is settled as a
  failure of its transfer would be.
- One ``FileRun`` per held file is its whole in-run state: its record, its transfer, its
  task. The engine's collections only say where each one is (waiting, running, finished).
- The summary counts what was repaired: each failed attempt given another (by class),
  bytes that failed verification and were fetched again, each move to a next source.
  A file waiting for its retry is "retrying" on the board; one the run leaves FAILED is
  "failed" there when the run ends.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from skyhaul.core.claimahead import ClaimAhead
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import (
    AttemptRecord,
    Completion,
    Failure,
    FileRecord,
    RunSummary,
    Selection,
    TransferOptions,
)
from skyhaul.core.progress import ProgressBoard
from skyhaul.core.redact import redact_url
from skyhaul.core.retry import RetryPolicy
from skyhaul.errors import (
    ClientError,
    ConfigError,
    DiskError,
    DiskFullError,
    InvalidSpecError,
    PathEscapeError,
    SkyhaulError,
    TransferError,
)
from skyhaul.ports.catalog import Claims, HostWindows, SegmentMap
from skyhaul.ports.content import ContentCheck
from skyhaul.ports.limits import SharedHostLimits
from skyhaul.ports.sink import Sinks
from skyhaul.ports.transport import Transports
from skyhaul.services.clock import SYSTEM_CLOCK, Clock
from skyhaul.services.hostgate import GateRegistry
from skyhaul.services.owners import new_owner, owner_is_dead_here
from skyhaul.services.shared_gate import SharedGateRegistry
from skyhaul.services.transfer import FileTransfer, TransferRun

__all__ = ["Engine", "FileRun"]

log = logging.getLogger("skyhaul.engine")

#: Completions are written to the catalog in batches of at most this many...
COMPLETION_BATCH = 256
#: ...or after this many seconds, whichever comes first.
COMPLETION_DELAY = 0.05
#: Files held (claimed ahead of free slots, or in flight) at least...
CLAIM_AHEAD = 64
#: ...and at most, when small files finish fast (see ``core.claimahead``).
CLAIM_AHEAD_MOST = 1024


@dataclass(slots=True)
class _Repairs:
    """What one file's attempts repaired on its way: counted only once it is DOWNLOADED
    (a retry of a file that then ends FAILED or ABANDONED repaired nothing)."""

    retries: Counter[str] = field(default_factory=Counter)
    integrity_refetched: int = 0
    sources_switched: int = 0

    def retried(self, error_class: ErrorClass) -> None:
        """Count a failed attempt given another (bytes that failed verification are
        fetched again)."""
        self.retries[error_class.value] += 1
        if error_class is ErrorClass.INTEGRITY:
            self.integrity_refetched += 1

    def add_to(self, summary: RunSummary) -> None:
        """Add these repairs to the run's summary."""
        for error_class, count in self.retries.items():
            summary.retries[error_class] = summary.retries.get(error_class, 0) + count
        summary.integrity_refetched += self.integrity_refetched
        summary.sources_switched += self.sources_switched


@dataclass(slots=True, eq=False)
class FileRun:
    """One held file in this run: everything the engine knows of it, in one place."""

    record: FileRecord
    started_at: datetime | None = None
    transfer: FileTransfer | None = None
    task: asyncio.Task[Completion] | None = None
    lost: bool = False
    """Another worker took its lease: it is stopped and nothing more is recorded."""

    @property
    def id(self) -> int:
        """The catalog id."""
        return self.record.id

    @property
    def fetched(self) -> int:
        """Bytes received over the network in this attempt."""
        return self.transfer.fetched if self.transfer is not None else 0

    def served(self) -> tuple[tuple[str, int], ...]:
        """Which URL served how many bytes of the file's content, as the attempt log says.

        Only told when the file has mirrors: with one URL, it is the file's URL.
        """
        if self.transfer is None or not self.record.mirrors:
            return ()
        return tuple(self.transfer.sources.served().items())


@dataclass
class Engine:
    """One download run over a catalog selection.

    Parameters
    ----------
    claims : Claims
        Claims, leases and outcomes (the catalog's role).
    segment_map : SegmentMap
        Durable ranges and validators (the catalog's role).
    transports : Transports
        The transport of each URL's scheme; owned (closed) by the caller.
    sinks : Sinks
        Where each file's bytes are written.
    options : TransferOptions
        Concurrency, segment size, attempts, leases, timeouts.
    selection, job_id
        Which files (``job_id``: only the files linked to that job, as ``skyhaul get``
        links the files it names).
    board : ProgressBoard or None
        Where progress goes (the CLI draws it).
    cancel : asyncio.Event or None
        Set it to stop the run; everything stays resumable.
    clock : Clock
        Wall and monotonic clocks, and the sleep of retry waits.
    owner : str
        The lease owner id of this run.
    random : callable
        Jitter of retry delays.
    content_check : ContentCheck or None
        Checks each file's verified bytes before promotion and reads its FITS headers,
        which its completion stores (``options.fits_metadata``); None: no check.
    limits : SharedHostLimits or None
        Per-host politeness shared with other workers (``services.shared_gate``); None:
        each host's gate is this run's alone.
    host_windows : HostWindows or None
        With ``limits``: where hosts' window decisions are read at the start and written.
    hold_most : int or None
        Most files this run holds at once, claimed or in flight (None: as many as its
        claim-ahead wants). A worker sharing a job with others holds its share, so a job
        of a few large files is spread over the workers, not taken by the first.
    """

    claims: Claims
    segment_map: SegmentMap
    transports: Transports
    sinks: Sinks
    options: TransferOptions
    selection: Selection | None = None
    job_id: int | None = None
    board: ProgressBoard | None = None
    cancel: asyncio.Event | None = None
    clock: Clock = SYSTEM_CLOCK
    owner: str = field(default_factory=new_owner)
    random: Callable[[], float] = random.random
    content_check: ContentCheck | None = None
    limits: SharedHostLimits | None = None
    host_windows: HostWindows | None = None
    hold_most: int | None = None

    summary: RunSummary = field(default_factory=RunSummary)
    _held: dict[int, FileRun] = field(default_factory=dict)
    _waiting: deque[FileRun] = field(default_factory=deque)
    _running: set[FileRun] = field(default_factory=set)
    _finished: deque[FileRun] = field(default_factory=deque)
    _completions: list[Completion] = field(default_factory=list)
    _attempts: list[AttemptRecord] = field(default_factory=list)
    _failures: dict[int, Failure] = field(default_factory=dict)
    _repairs: dict[int, _Repairs] = field(default_factory=dict)
    """What each file's attempts so far repaired, told in the summary once it is DOWNLOADED."""
    _retry_due: datetime | None = None
    _wake: asyncio.Future[None] | None = None

    async def run(self) -> RunSummary:
        """Download every eligible file of the selection; return what happened."""
        began = self.clock.monotonic()
        options = self.options
        loop = asyncio.get_running_loop()
        self._policy = RetryPolicy(
            max_attempts=options.max_attempts,
            base_delay=options.retry_base_delay,
            max_delay=options.retry_max_delay,
        )
        self._run = TransferRun(
            transports=self.transports,
            segment_map=self.segment_map,
            gates=await self._gates(loop.time),
            options=options,
            policy=self._policy,
            owner=self.owner,
            board=self.board,
            sleep=self.clock.sleep,
            random=self.random,
            monotonic=self.clock.monotonic,
            content_check=self.content_check,
        )
        cancel = self.cancel or asyncio.Event()
        heartbeat = asyncio.ensure_future(self._heartbeat())
        try:
            await self._prepare()
            await self._loop(cancel)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            await self._wind_down()
            if isinstance(self._run.gates, SharedGateRegistry):
                await self._run.gates.close()
            self.summary.seconds = self.clock.monotonic() - began
            self.summary.failures = list(self._failures.values())
            left_failed = [f for f in self._failures.values() if not f.abandoned]
            self.summary.failed = len(left_failed)
            if self.board is not None:
                for failure in left_failed:  # no retry in this run: failed for good
                    self.board.finish_file(str(failure.file_id), False)
        return self.summary

    # --- the scheduling loop --------------------------------------------------------------

    async def _gates(self, clock: Callable[[], float]) -> GateRegistry:
        """The hosts' gates: this run's own, or shared with other workers through
        ``limits``, starting from the decisions they stored."""
        options = self.options
        if self.limits is None:
            return GateRegistry(options.max_per_host, clock, options.max_wait)
        learned = {} if self.host_windows is None else await self.host_windows.host_windows()
        gates = SharedGateRegistry(
            options.max_per_host,
            clock,
            options.max_wait,
            limits=self.limits,
            owner=self.owner,
            ttl=options.lease_seconds,
            windows=self.host_windows,
            learned=learned,
            now=self.clock.now,
        )
        gates.start()
        return gates

    async def _prepare(self) -> None:
        await self._release_dead_local_owners()
        recovered = await self.claims.recover_stale(now=self.clock.now())
        if recovered:
            log.info("recovered %d files whose lease had expired", recovered)
        if self.board is not None:
            files, nbytes = await self.claims.expected_totals(
                job_id=self.job_id, selection=self.selection
            )
            self.board.add_expected(files, nbytes)

    async def _release_dead_local_owners(self) -> None:
        """Release files held by processes of this host that no longer exist.

        A killed run leaves its leases behind; waiting for them to expire would stall a
        restart for a whole lease. Only this host's owners can be checked, so others wait
        for ``recover_stale``.
        """
        by_owner: dict[str, list[int]] = {}
        for row in await self.claims.leased_files():
            if row.lease_owner and owner_is_dead_here(row.lease_owner):
                by_owner.setdefault(row.lease_owner, []).append(row.id)
        for owner, ids in by_owner.items():
            released = await self.claims.release(ids, owner, now=self.clock.now())
            log.info("released %d files left by %s, which is no longer running", released, owner)

    async def _loop(self, cancel: asyncio.Event) -> None:
        concurrency = max(1, self.options.concurrency)
        # Claim ahead of the slots (fewer catalog round trips), but not so far ahead that
        # other workers sharing the catalog find nothing left to claim.
        floor = max(2 * concurrency, CLAIM_AHEAD)
        ahead = ClaimAhead(floor, max(floor, CLAIM_AHEAD_MOST))
        cancelled = asyncio.ensure_future(cancel.wait())
        cancelled.add_done_callback(self._wake_up)
        try:
            drained = False
            while not cancel.is_set():
                if self._retry_due is not None and self.clock.now() >= self._retry_due:
                    drained, self._retry_due = False, None
                if not drained and len(self._waiting) < concurrency:
                    want = ahead.next_size(self.clock.monotonic())
                    if self.hold_most is not None:
                        want = min(want, self.hold_most)
                    want -= len(self._held)
                    drained = await self._claim(want)
                while self._waiting and len(self._running) < concurrency:
                    self._start(self._waiting.popleft())
                    ahead.started()
                if not self._running:
                    if self._waiting:
                        continue
                    if not await self._wait_for_due(cancelled):
                        return
                    drained, self._retry_due = False, None
                    continue
                await self._until_finished(COMPLETION_DELAY if self._completions else None)
                settled = len(self._finished)
                while self._finished:
                    await self._settle(self._finished.popleft())
                if len(self._completions) >= COMPLETION_BATCH or not settled:
                    await self._flush()
            self.summary.interrupted = True
        finally:
            cancelled.cancel()

    async def _claim(self, want: int) -> bool:
        """Claim up to ``want`` files; return True when the selection has no more now."""
        if want <= 0:
            return False
        batch = await self.claims.claim_batch(
            self.owner,
            want,
            now=self.clock.now(),
            lease_seconds=self.options.lease_seconds,
            selection=self.selection,
            job_id=self.job_id,
        )
        for record in batch:
            held = self._held[record.id] = FileRun(record)
            self._waiting.append(held)
        return len(batch) < want

    async def _wait_for_due(self, cancelled: asyncio.Future[Literal[True]]) -> bool:
        """Wait for the next failed file to become due; False when there is none."""
        await self._flush()
        due = await self.claims.next_attempt_due(job_id=self.job_id, selection=self.selection)
        if due is None:
            return False
        delay = (due - self.clock.now()).total_seconds()
        if delay > self.options.max_wait:
            log.warning("next retry is due at %s; not waiting for it", due.isoformat())
            return False
        if delay > 0:
            log.info("waiting %.1f s for the next retry", delay)
            sleeping = asyncio.ensure_future(self.clock.sleep(delay))
            either: list[asyncio.Future[Any]] = [cancelled, sleeping]
            try:
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeping.cancel()
        return True

    def _start(self, held: FileRun) -> None:
        held.started_at = self.clock.now()
        try:
            held.transfer = FileTransfer(
                record=held.record, sink=self.sinks.for_file(held.record), run=self._run
            )
        except (PathEscapeError, ValueError) as exc:
            # A value of the row that no attempt can use: retrying would not change it.
            self._track(held, asyncio.ensure_future(_raise(ClientError(str(exc)))))
            return
        except Exception as exc:  # settled as its transfer's failure: this file only
            self._track(held, asyncio.ensure_future(_raise(exc)))
            return
        self._track(held, asyncio.ensure_future(held.transfer.execute()))

    # --- waiting for transfers ----------------------------------------------------------
    # Each transfer queues itself when it ends, so the loop wakes once per batch of
    # endings without re-arming a wait on every transfer in flight each time.

    def _track(self, held: FileRun, task: asyncio.Task[Completion]) -> None:
        held.task = task
        self._running.add(held)
        task.add_done_callback(lambda _: self._on_finished(held))

    def _on_finished(self, held: FileRun) -> None:
        self._finished.append(held)
        self._wake_up()

    def _wake_up(self, _: object = None) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def _until_finished(self, longest: float | None) -> None:
        """Return once a transfer has ended, the run is cancelled, or ``longest`` s passed."""
        if self._finished:
            return
        loop = asyncio.get_running_loop()
        self._wake = loop.create_future()
        timer = loop.call_later(longest, self._wake_up) if longest is not None else None
        try:
            await self._wake
        finally:
            self._wake = None
            if timer is not None:
                timer.cancel()

    # --- outcomes -------------------------------------------------------------------------

    async def _settle(self, held: FileRun) -> None:
        self._running.discard(held)
        task = held.task
        assert task is not None
        if held.lost or task.cancelled():
            self._held.pop(held.id, None)
            return
        error = task.exception()
        if error is None:
            completion = task.result()
            self._completions.append(completion)
            self._note_attempt(held, "downloaded")
            self._failures.pop(held.id, None)
            self._repairs.pop(held.id, _Repairs()).add_to(self.summary)
            self.summary.downloaded += 1
            self.summary.bytes += completion.size
            if self.board is not None:
                self.board.finish_file(str(held.id), True)
            del self._held[held.id]
            return
        if isinstance(error, DiskFullError | ConfigError):
            raise error  # every other file would fail the same way
        if not isinstance(error, TransferError):
            error = _as_transfer_error(held.record.path, error)
        await self._fail(held, error)

    async def _fail(self, held: FileRun, error: TransferError) -> None:
        record = held.record
        decision = self._policy.decide(
            error.error_class, record.attempts, retry_after=error.retry_after, random=self.random
        )
        now = self.clock.now()
        if decision.retry:
            due = now + timedelta(seconds=decision.delay)
            self._retry_due = due if self._retry_due is None else min(self._retry_due, due)
        state = await self.claims.fail(
            record.id,
            self.owner,
            now=now,
            error_class=error.error_class.value,
            message=error.message,
            next_attempt_at=now + timedelta(seconds=decision.delay) if decision.retry else None,
            permanent=not decision.retry,
        )
        abandoned = state is FileState.ABANDONED
        if state is FileState.FAILED:
            self._repairs_of(record.id).retried(error.error_class)
        self._note_attempt(held, "abandoned" if abandoned else "failed", error)
        self._failures[record.id] = Failure(
            url=redact_url(record.url),
            error_class=error.error_class.value,
            message=error.message,
            abandoned=abandoned,
            file_id=record.id,
        )
        if abandoned:
            self._repairs.pop(record.id, None)  # nothing was repaired
            self.summary.abandoned += 1
            log.warning("%s: abandoned: %s (%s)", record.path, error, decision.reason)
            await self._discard(held)
        else:
            log.debug("%s: %s; retry in %.1f s", record.path, error, decision.delay)
        if self.board is not None:
            if abandoned:
                self.board.finish_file(str(record.id), False)
            else:
                self.board.retry_file(str(record.id))
        del self._held[record.id]

    async def _discard(self, held: FileRun) -> None:
        """Delete the bytes of a file just ABANDONED: nothing resumes it, so it keeps none
        (``retry`` starts it from byte 0, as its segments are forgotten with them)."""
        if held.transfer is None:
            return  # refused before it had a sink
        await self.segment_map.reset_segments(held.id)
        try:
            await asyncio.to_thread(held.transfer.sink.discard)
        except SkyhaulError as exc:  # the outcome is recorded; the bytes are only litter
            log.warning("%s: could not delete its part file: %s", held.record.path, exc)

    def _repairs_of(self, file_id: int) -> _Repairs:
        return self._repairs.setdefault(file_id, _Repairs())

    def _note_attempt(
        self, held: FileRun, outcome: str, error: TransferError | None = None
    ) -> None:
        """Log one attempt, and count what its transfer repaired within it."""
        if held.transfer is not None:
            sources = held.transfer.sources
            repairs = self._repairs_of(held.id)
            repairs.sources_switched += sources.switches
            repairs.integrity_refetched += sources.refetches
        now = self.clock.now()
        self._attempts.append(
            AttemptRecord(
                file_id=held.id,
                started_at=held.started_at or now,
                finished_at=now,
                outcome=outcome,
                bytes=held.fetched,
                error_class=error.error_class if error else None,
                message=error.message if error else None,
                sources=held.served(),
            )
        )

    async def _flush(self) -> None:
        """Write batched completions and attempt rows to the catalog, in one transaction."""
        items, self._completions = self._completions, []
        attempts, self._attempts = self._attempts, []
        if items:
            promoted = await self.claims.complete_many(
                items, self.owner, now=self.clock.now(), attempts=attempts
            )
            for item in items:
                if item.file_id not in promoted:
                    log.warning("file %d: lease lost before it could be recorded", item.file_id)
        elif attempts:
            await self.claims.record_attempts(attempts)

    # --- heartbeat and shutdown -----------------------------------------------------------

    async def _heartbeat(self) -> None:
        # Real time, not the injected sleep: other processes read the leases it renews.
        interval = max(0.2, self.options.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            ids = list(self._held)
            if not ids:
                continue
            progress = {i: held.fetched for i, held in self._held.items() if held.transfer}
            still = await self.claims.renew_leases(
                self.owner,
                ids,
                now=self.clock.now(),
                lease_seconds=self.options.lease_seconds,
                bytes_done=progress,
            )
            for lost in set(ids) - still:
                held = self._held.get(lost)
                if held is None:
                    continue
                log.warning("file %d: lease lost to another worker; stopping it", lost)
                held.lost = True
                if held.task is not None:
                    held.task.cancel()

    async def _wind_down(self) -> None:
        """Stop in-flight transfers, keep their progress, release what is held."""
        running = [held.task for held in self._running if held.task is not None]
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        self._finished.clear()
        for held in list(self._running):
            ended = held.task
            assert ended is not None
            stopped = ended.cancelled() or isinstance(
                ended.exception(), DiskFullError | ConfigError
            )
            if not stopped:
                await self._settle(held)  # finished before the cancel reached it
                continue
            self._running.discard(held)
            if held.id in self._held and not held.lost:
                self._note_attempt(held, "released")
        await self._flush()
        release = [i for i, held in self._held.items() if not held.lost]
        if release:
            await self.claims.release(release, self.owner, now=self.clock.now())
        self._held.clear()


async def _raise(error: BaseException) -> Completion:
    raise error


def _as_transfer_error(path: str, error: BaseException) -> TransferError:
    """The skyhaul error of one a transfer did not map itself, with the class it deserves.

    Nothing here is worth a traceback to a user: the message is one line (at ERROR for an
    internal error), the traceback at DEBUG.
    """
    log.debug("%s: %s", path, type(error).__name__, exc_info=error)
    if isinstance(error, PathEscapeError | InvalidSpecError):
        # Refused every time: its destination when written to or promoted (a directory
        # swapped for a symlink, a hard-linked part file), as when it was named; a value
        # the catalog cannot hold (a size a server announced).
        return ClientError(error.message)
    if isinstance(error, OSError):
        return DiskError(f"cannot write {path}: {error.strerror or error}")
    log.error("%s: internal error: %s: %s (-v shows where)", path, type(error).__name__, error)
    return TransferError(f"internal error: {type(error).__name__}: {error}")
