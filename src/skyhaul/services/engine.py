"""The download engine: claims files from the catalog and runs their transfers.

Rules:
- The catalog is the source of truth: files are claimed in batches by compare-and-set,
  held under a lease renewed by a heartbeat while the run lives, and every outcome is a
  lifecycle transition (DOWNLOADED, FAILED with its next attempt time, ABANDONED).
- At most ``concurrency`` files are in flight; each request to a host also passes that
  host's adaptive gate, so several large files share one polite window.
- A failed attempt is classified by its error type and the retry policy decides: FAILED
  with a backoff delay (the run waits for it) or ABANDONED. The run ends when nothing in
  its selection is eligible now or later.
- Cancellation (the ``cancel`` event) stops in-flight requests, makes their progress
  durable and releases every held file back to DISCOVERED: all of it resumable.
- A full disk stops the whole run (``DiskFullError``): other files would fail the same way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from skyhaul.adapters.http import HttpSettings, HttpTransport
from skyhaul.adapters.storage import DestinationRoot, PartFile
from skyhaul.core.claimahead import ClaimAhead
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
from skyhaul.errors import ClientError, DiskFullError, PathEscapeError, TransferError
from skyhaul.ports.transport import Transport
from skyhaul.services.catalog_runner import CatalogRunner
from skyhaul.services.hostgate import GateRegistry
from skyhaul.services.transfer import FileTransfer, TransferRun

log = logging.getLogger("skyhaul.engine")

#: Completions are written to the catalog in batches of at most this many...
COMPLETION_BATCH = 256
#: ...or after this many seconds, whichever comes first.
COMPLETION_DELAY = 0.05
#: Files held (claimed ahead of free slots, or in flight) at least...
CLAIM_AHEAD = 64
#: ...and at most, when small files finish fast (see ``core.claimahead``).
CLAIM_AHEAD_MOST = 1024
#: A run does not wait longer than this for a file's next attempt; it reports it failed.
LONGEST_WAIT = timedelta(minutes=10)


def new_owner() -> str:
    """A lease owner id: host, process and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead_here(owner: str) -> bool:
    """True when ``owner`` names a process of this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def utc_now() -> datetime:
    """The wall clock, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass
class Engine:
    """One download run over a catalog selection.

    Parameters
    ----------
    catalog : Catalog
        The catalog to claim from and record into.
    options : TransferOptions
        Concurrency, segment size, attempts, leases, timeouts, TLS.
    selection, request_id
        Which files (``request_id`` is stamped by ``skyhaul get`` on the files it names).
    board : ProgressBoard or None
        Where progress goes (the CLI draws it).
    cancel : asyncio.Event or None
        Set it to stop the run; everything stays resumable.
    transport : Transport or None
        Defaults to the HTTP transport.
    now : callable
        Wall clock (timezone-aware UTC); injectable for tests.
    """

    catalog: Any
    options: TransferOptions
    selection: Selection | None = None
    request_id: str | None = None
    board: ProgressBoard | None = None
    cancel: asyncio.Event | None = None
    transport: Transport | None = None
    now: Callable[[], datetime] = utc_now
    owner: str = field(default_factory=new_owner)
    random: Callable[[], float] = random.random

    summary: RunSummary = field(default_factory=RunSummary)
    _held: dict[int, FileRecord] = field(default_factory=dict)
    _queue: deque[FileRecord] = field(default_factory=deque)
    _active: dict[asyncio.Task[Completion], FileRecord] = field(default_factory=dict)
    _transfers: dict[int, FileTransfer] = field(default_factory=dict)
    _lost: set[int] = field(default_factory=set)
    _completions: list[Completion] = field(default_factory=list)
    _attempts: list[AttemptRecord] = field(default_factory=list)
    _started: dict[int, datetime] = field(default_factory=dict)
    _failures: dict[int, Failure] = field(default_factory=dict)
    _roots: dict[str, DestinationRoot] = field(default_factory=dict)
    _retry_due: datetime | None = None
    _finished: deque[asyncio.Task[Completion]] = field(default_factory=deque)
    _wake: asyncio.Future[None] | None = None

    async def run(self) -> RunSummary:
        """Download every eligible file of the selection; return what happened."""
        began = time.monotonic()
        options = self.options
        self._db = CatalogRunner(self.catalog)
        owns_transport = self.transport is None
        transport = self.transport or HttpTransport(
            HttpSettings(
                connect_timeout=options.connect_timeout,
                read_timeout=options.read_timeout,
                verify_tls=options.verify_tls,
                authorization=options.credentials,
            )
        )
        loop = asyncio.get_running_loop()
        self._gates = GateRegistry(options.max_per_host, loop.time)
        self._policy = RetryPolicy(
            max_attempts=options.max_attempts,
            base_delay=options.retry_base_delay,
            max_delay=options.retry_max_delay,
        )
        self._run = TransferRun(
            transport=transport,
            options=options,
            policy=self._policy,
            catalog_call=self._db.call,
            owner=self.owner,
            board=self.board,
            random=self.random,
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
            if owns_transport:
                await transport.close()
            self._db.close()
            self.summary.seconds = time.monotonic() - began
            self.summary.failures = list(self._failures.values())
            self.summary.failed = sum(1 for f in self._failures.values() if not f.abandoned)
        return self.summary

    # --- the scheduling loop --------------------------------------------------------------

    async def _prepare(self) -> None:
        await self._release_dead_local_owners()
        recovered = await self._db.call("recover_stale", now=self.now())
        if recovered:
            log.info("recovered %d files whose lease had expired", recovered)
        if self.board is not None:
            files, nbytes = await self._db.call(
                "expected_totals", request_id=self.request_id, selection=self.selection
            )
            self.board.add_expected(files, nbytes)

    async def _release_dead_local_owners(self) -> None:
        """Release files held by processes of this host that no longer exist.

        A killed run leaves its leases behind; waiting for them to expire would stall a
        restart for a whole lease. Only this host's owners can be checked, so others wait
        for ``recover_stale``.
        """
        downloading = Selection(states=frozenset({FileState.DOWNLOADING}))
        rows: list[FileRecord] = await self._db.call("list_files", downloading)
        by_owner: dict[str, list[int]] = {}
        for row in rows:
            if row.lease_owner and owner_is_dead_here(row.lease_owner):
                by_owner.setdefault(row.lease_owner, []).append(row.id)
        for owner, ids in by_owner.items():
            released = await self._db.call("release", ids, owner, now=self.now())
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
                if self._retry_due is not None and self.now() >= self._retry_due:
                    drained, self._retry_due = False, None
                if not drained and len(self._queue) < concurrency:
                    drained = await self._claim(ahead.next_size(time.monotonic()) - len(self._held))
                while self._queue and len(self._active) < concurrency:
                    self._start(self._queue.popleft())
                    ahead.started()
                if not self._active:
                    if self._queue:
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
        batch: list[FileRecord] = await self._db.call(
            "claim_batch",
            self.owner,
            want,
            now=self.now(),
            lease_seconds=self.options.lease_seconds,
            selection=self.selection,
            request_id=self.request_id,
        )
        for record in batch:
            self._held[record.id] = record
            self._queue.append(record)
        return len(batch) < want

    async def _wait_for_due(self, cancelled: asyncio.Future[Any]) -> bool:
        """Wait for the next failed file to become due; False when there is none."""
        await self._flush()
        due: datetime | None = await self._db.call(
            "next_attempt_due", request_id=self.request_id, selection=self.selection
        )
        if due is None:
            return False
        delay = (due - self.now()).total_seconds()
        if delay > LONGEST_WAIT.total_seconds():
            log.warning("next retry is due at %s; not waiting for it", due.isoformat())
            return False
        if delay > 0:
            log.info("waiting %.1f s for the next retry", delay)
            await asyncio.wait([cancelled], timeout=delay)
        return True

    def _start(self, record: FileRecord) -> None:
        self._started[record.id] = self.now()
        try:
            transfer = self._prepare_transfer(record)
        except PathEscapeError as exc:
            self._track(asyncio.ensure_future(_raise(ClientError(str(exc)))), record)
            return
        self._transfers[record.id] = transfer
        self._track(asyncio.ensure_future(transfer.execute()), record)

    # --- waiting for transfers ----------------------------------------------------------
    # Each transfer queues itself when it ends, so the loop wakes once per batch of
    # endings without re-arming a wait on every transfer in flight each time.

    def _track(self, task: asyncio.Task[Completion], record: FileRecord) -> None:
        self._active[task] = record
        task.add_done_callback(self._on_finished)

    def _on_finished(self, task: asyncio.Task[Completion]) -> None:
        self._finished.append(task)
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

    def _prepare_transfer(self, record: FileRecord) -> FileTransfer:
        root = self._roots.get(record.dest_root)
        if root is None:
            root = self._roots[record.dest_root] = DestinationRoot(record.dest_root)
        final = root.final_path(record.path)
        gate = self._gates.for_url(record.url)
        return FileTransfer(record=record, part=PartFile(final), gate=gate, run=self._run)

    # --- outcomes -------------------------------------------------------------------------

    async def _settle(self, task: asyncio.Task[Completion]) -> None:
        record = self._active.pop(task)
        transfer = self._transfers.pop(record.id, None)
        fetched = transfer.fetched if transfer is not None else 0
        if record.id in self._lost or task.cancelled():
            self._forget(record)
            return
        error = task.exception()
        if error is None:
            completed = task.result()
            self._completions.append(completed)
            self._note_attempt(record, "downloaded", completed.fetched)
            self._failures.pop(record.id, None)
            self.summary.downloaded += 1
            self.summary.bytes += completed.size
            if self.board is not None:
                self.board.finish_file(str(record.id), True)
            del self._held[record.id]
            return
        if isinstance(error, DiskFullError):
            raise error
        if not isinstance(error, TransferError):
            log.error("%s: unexpected %s", record.path, type(error).__name__, exc_info=error)
            error = TransferError(f"internal error: {type(error).__name__}: {error}")
        await self._fail(record, error, fetched)

    async def _fail(self, record: FileRecord, error: TransferError, fetched: int) -> None:
        decision = self._policy.decide(
            error.error_class, record.attempts, retry_after=error.retry_after, random=self.random
        )
        now = self.now()
        if decision.retry:
            due = now + timedelta(seconds=decision.delay)
            self._retry_due = due if self._retry_due is None else min(self._retry_due, due)
        state: FileState | None = await self._db.call(
            "fail",
            record.id,
            self.owner,
            now=now,
            error_class=error.error_class.value,
            message=error.message,
            next_attempt_at=now + timedelta(seconds=decision.delay) if decision.retry else None,
            permanent=not decision.retry,
        )
        abandoned = state is FileState.ABANDONED
        outcome = "abandoned" if abandoned else "failed"
        self._note_attempt(record, outcome, fetched, error)
        self._failures[record.id] = Failure(
            url=redact_url(record.url),
            error_class=error.error_class.value,
            message=error.message,
            abandoned=abandoned,
            file_id=record.id,
        )
        if abandoned:
            self.summary.abandoned += 1
            log.warning("%s: abandoned: %s (%s)", record.path, error, decision.reason)
        else:
            log.debug("%s: %s; retry in %.1f s", record.path, error, decision.delay)
        if self.board is not None:
            # A retried file leaves the failed count again when it restarts.
            self.board.finish_file(str(record.id), False)
        del self._held[record.id]

    def _note_attempt(
        self, record: FileRecord, outcome: str, fetched: int, error: TransferError | None = None
    ) -> None:
        self._attempts.append(
            AttemptRecord(
                file_id=record.id,
                started_at=self._started.pop(record.id, self.now()),
                finished_at=self.now(),
                outcome=outcome,
                bytes=fetched,
                error_class=error.error_class if error else None,
                message=error.message if error else None,
            )
        )

    def _forget(self, record: FileRecord) -> None:
        self._held.pop(record.id, None)
        self._started.pop(record.id, None)

    async def _flush(self) -> None:
        """Write batched completions and attempt rows to the catalog."""
        if self._completions:
            items, self._completions = self._completions, []
            promoted: set[int] = await self._db.call(
                "complete_many", items, self.owner, now=self.now()
            )
            for item in items:
                if item.file_id not in promoted:
                    log.warning("file %d: lease lost before it could be recorded", item.file_id)
        if self._attempts:
            attempts, self._attempts = self._attempts, []
            await self._db.call("record_attempts", attempts)

    # --- heartbeat and shutdown -----------------------------------------------------------

    async def _heartbeat(self) -> None:
        interval = max(0.2, self.options.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            ids = list(self._held)
            if not ids:
                continue
            progress = {i: t.fetched for i, t in self._transfers.items()}
            still: set[int] = await self._db.call(
                "renew_leases",
                self.owner,
                ids,
                now=self.now(),
                lease_seconds=self.options.lease_seconds,
                bytes_done=progress,
            )
            for lost in set(ids) - still:
                log.warning("file %d: lease lost to another worker; stopping it", lost)
                self._lost.add(lost)
                for task, record in self._active.items():
                    if record.id == lost:
                        task.cancel()

    async def _wind_down(self) -> None:
        """Stop in-flight transfers, keep their progress, release what is held."""
        for task in self._active:
            task.cancel()
        if self._active:
            await asyncio.gather(*self._active, return_exceptions=True)
        for task in list(self._active):
            if not task.cancelled() and not isinstance(task.exception(), DiskFullError):
                await self._settle(task)  # finished before the cancel reached it
                continue
            record = self._active.pop(task)
            transfer = self._transfers.pop(record.id, None)
            if record.id in self._held:
                self._note_attempt(record, "released", transfer.fetched if transfer else 0)
        await self._flush()
        release = [i for i in self._held if i not in self._lost]
        if release:
            await self._db.call("release", release, self.owner, now=self.now())
        self._held.clear()


async def _raise(error: BaseException) -> Completion:
    raise error


async def run_download(
    catalog: Any,
    options: TransferOptions,
    *,
    selection: Selection | None = None,
    request_id: str | None = None,
    board: ProgressBoard | None = None,
    cancel: asyncio.Event | None = None,
    transport: Transport | None = None,
) -> RunSummary:
    """Download every eligible file (new, or failed and due) of a selection.

    Parameters
    ----------
    catalog : Catalog
        The catalog to work from.
    options : TransferOptions
        Concurrency, segment size, attempts and timeouts.
    selection : Selection or None
        Which files; None for all.
    request_id : str or None
        Only the files a ``skyhaul get`` request named.
    board : ProgressBoard or None
        Receives progress.
    cancel : asyncio.Event or None
        Set to stop; files stay resumable and the summary says ``interrupted``.
    transport : Transport or None
        Defaults to HTTP(S).

    Returns
    -------
    RunSummary
        Counts, bytes, seconds and the failures.

    Raises
    ------
    DiskFullError
        The destination filled up; the run stopped with every file resumable.
    """
    engine = Engine(
        catalog=catalog,
        options=options,
        selection=selection,
        request_id=request_id,
        board=board,
        cancel=cancel,
        transport=transport,
    )
    return await engine.run()
