"""Extra engine processes for a run of many small files (``--processes``), forked.

Rules:
- Children are forked after the imports and the registration, before any event loop or
  thread exists, so they start in milliseconds and share nothing but the catalog, where
  claims are compare-and-set. Each owns its lease owner id, so a killed child's files are
  released by the next run like any dead process's.
- The parent talks to each child over two pipes. Control (parent to child): a ``c`` byte
  cancels the child's run; end of file means the parent is gone: the child cancels, or,
  if it was already cancelled, exits at once (a second Ctrl-C). Reports (child to parent):
  length-prefixed pickles of log records, progress snapshots and finally the run's summary
  or the error that stopped it.
- Ctrl-C reaches the whole process group, but children ignore SIGINT: the parent alone
  decides and relays, so one Ctrl-C is never counted twice. A SIGTERM sent to a child
  itself cancels it as it would the parent.
- A child never returns into the parent's code: it leaves with ``os._exit``, skipping the
  parent's ``atexit`` handlers and buffered output.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import pickle
import signal
import struct
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from skyhaul.core.model import RunSummary
from skyhaul.core.progress import ProgressBoard, ProgressSnapshot, merge_snapshots
from skyhaul.errors import SkyhaulError
from skyhaul.services.cancellation import EXIT_INTERRUPTED, run_cancellable

__all__ = ["ChildRun", "MergedProgress", "WorkerProcesses"]

log = logging.getLogger("skyhaul.engine")

_FRAME = struct.Struct("!I")
_CANCEL = b"c"
#: Seconds between progress snapshots sent by a child (only when progress is drawn).
SNAPSHOT_INTERVAL = 0.1

#: What a child runs: ``(cancel, board or None) -> summary``.
ChildRun = Callable[[asyncio.Event, ProgressBoard | None], Awaitable[RunSummary]]


@dataclass
class _Child:
    pid: int
    control: int  # write end: the child's cancel and lifeline
    reports: int  # read end: the child's reports
    buffer: bytearray = field(default_factory=bytearray)
    summary: RunSummary | None = None
    error: SkyhaulError | None = None
    snapshot: ProgressSnapshot | None = None
    ended: asyncio.Future[None] | None = None


class MergedProgress:
    """The run's progress as one board: the parent's own plus each child's latest snapshot."""

    def __init__(self, own: ProgressBoard, children: list[_Child]) -> None:
        self._own = own
        self._children = children

    def snapshot(self) -> ProgressSnapshot:
        """Return the whole run's progress now."""
        others = [c.snapshot for c in self._children if c.snapshot is not None]
        return merge_snapshots(self._own.snapshot(), others)


class WorkerProcesses:
    """Forked engine processes of one run, seen from the parent.

    Use :meth:`fork`, then, inside the parent's event loop, :meth:`supervise` alongside the
    parent's own share of the run.
    """

    def __init__(self, children: list[_Child]) -> None:
        self.children = children

    @classmethod
    def fork(cls, count: int, run: Callable[[int], ChildRun], *, progress: bool) -> WorkerProcesses:
        """Fork ``count`` children; child ``i`` runs ``run(i)`` and exits.

        Parameters
        ----------
        count : int
            Children to fork.
        run : callable
            ``run(i)`` builds child ``i``'s work (called in the child).
        progress : bool
            Give each child a board and send its snapshots to the parent.

        Raises
        ------
        RuntimeError
            A thread or event loop is running: forking now could copy a held lock.
        """
        if threading.active_count() > 1:
            raise RuntimeError("cannot fork engine processes: other threads are running")
        children: list[_Child] = []
        for index in range(count):
            control_read, control_write = os.pipe()
            reports_read, reports_write = os.pipe()
            sys.stdout.flush()
            sys.stderr.flush()
            try:
                pid = os.fork()
            except OSError as exc:  # out of processes or memory: run with those forked
                for fd in (control_read, control_write, reports_read, reports_write):
                    os.close(fd)
                log.warning(
                    "could not start engine process %d of %d: %s", index + 2, count + 1, exc
                )
                break
            if pid == 0:  # the child
                for fd in [control_write, reports_read] + [
                    fd for c in children for fd in (c.control, c.reports)
                ]:
                    os.close(fd)
                build = functools.partial(run, index)
                _child_main(build, control_read, reports_write, progress=progress)
            os.close(control_read)
            os.close(reports_write)
            children.append(_Child(pid, control_write, reports_read))
        return cls(children)

    async def supervise(self, cancel: asyncio.Event) -> list[RunSummary]:
        """Relay ``cancel`` to the children and collect their reports until they exit.

        A child's error cancels the whole run (``cancel`` is set) and is raised once every
        child has ended.

        Returns
        -------
        list of RunSummary
            One per child; a child that died without a summary counts as interrupted.
        """
        loop = asyncio.get_running_loop()
        for child in self.children:
            child.ended = loop.create_future()
            loop.add_reader(child.reports, self._on_readable, child, cancel)
        relay = asyncio.ensure_future(cancel.wait())
        relay.add_done_callback(lambda _: self.cancel())
        try:
            await asyncio.gather(*(c.ended for c in self.children if c.ended is not None))
        finally:
            relay.cancel()
            for child in self.children:
                loop.remove_reader(child.reports)
        for child in self.children:
            await loop.run_in_executor(None, _reap, child.pid)
            os.close(child.reports)
            os.close(child.control)
        error = next((c.error for c in self.children if c.error is not None), None)
        if error is not None:
            raise error
        return [c.summary or RunSummary(interrupted=True) for c in self.children]

    def cancel(self) -> None:
        """Ask every child still running to stop (files stay resumable)."""
        for child in self.children:
            if child.ended is None or not child.ended.done():
                with contextlib.suppress(OSError):
                    os.write(child.control, _CANCEL)

    def _on_readable(self, child: _Child, cancel: asyncio.Event) -> None:
        try:
            data = os.read(child.reports, 1 << 16)
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(child.reports)
            if child.summary is None and child.error is None:
                log.warning("engine process %d ended without a summary", child.pid)
            if child.ended is not None and not child.ended.done():
                child.ended.set_result(None)
            return
        child.buffer += data
        for kind, body in _frames(child.buffer):
            if kind == "log":
                name, level, message = body
                logging.getLogger(name).log(level, "%s", message)
            elif kind == "progress":
                child.snapshot = body
            elif kind == "summary":
                child.summary = body
            elif kind == "error":
                child.error = body
                cancel.set()


def _frames(buffer: bytearray) -> list[tuple[str, Any]]:
    """Take every whole frame off the front of ``buffer``."""
    messages: list[tuple[str, Any]] = []
    while len(buffer) >= _FRAME.size:
        (length,) = _FRAME.unpack_from(buffer)
        end = _FRAME.size + length
        if len(buffer) < end:
            break
        # Our own child over a private pipe: nothing else can write these bytes.
        messages.append(pickle.loads(bytes(buffer[_FRAME.size : end])))
        del buffer[:end]
    return messages


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


# --- the child side -----------------------------------------------------------------------


class _Reports:
    """The child's end of the reports pipe (thread-safe: logs come from any thread)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()

    def send(self, kind: str, body: object) -> None:
        data = pickle.dumps((kind, body), protocol=pickle.HIGHEST_PROTOCOL)
        frame = _FRAME.pack(len(data)) + data
        with self._lock:
            view = memoryview(frame)
            while view:
                view = view[os.write(self._fd, view) :]


class _RelayLogs(logging.Handler):
    """Send log records to the parent, which prints them above its progress display."""

    def __init__(self, reports: _Reports) -> None:
        super().__init__()
        self._reports = reports

    def emit(self, record: logging.LogRecord) -> None:
        # The parent may be gone: its control pipe tells the run, not a failed log line.
        _send_quietly(self._reports, "log", (record.name, record.levelno, record.getMessage()))


def _child_main(
    build: Callable[[], ChildRun], control: int, reports_fd: int, *, progress: bool
) -> None:
    """Run a child's share of the run and exit the process; never returns.

    Everything after the fork happens inside the ``try``: an error must never return the
    child into the parent's code.
    """
    code = 0
    reports = _Reports(reports_fd)
    try:
        work = build()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        package = logging.getLogger("skyhaul")
        for handler in list(package.handlers):
            package.removeHandler(handler)
        package.addHandler(_RelayLogs(reports))
        summary = run_cancellable(
            lambda cancel: _child_job(work, cancel, control, reports, progress),
            signals=(signal.SIGTERM,),
        )
        reports.send("summary", summary)
    except SkyhaulError as exc:
        _send_quietly(reports, "error", exc)
        code = exc.exit_code
    except BaseException as exc:  # a child must always end with os._exit, whatever happens
        error = SkyhaulError(f"engine process: unexpected {type(exc).__name__}: {exc}")
        _send_quietly(reports, "error", error)
        code = 1
    finally:
        os._exit(code)


def _send_quietly(reports: _Reports, kind: str, body: object) -> None:
    with contextlib.suppress(OSError):
        reports.send(kind, body)


async def _child_job(
    work: ChildRun, cancel: asyncio.Event, control: int, reports: _Reports, progress: bool
) -> RunSummary:
    loop = asyncio.get_running_loop()

    def on_control() -> None:
        try:
            data = os.read(control, 64)
        except OSError:
            data = b""
        if data:
            cancel.set()
            return
        loop.remove_reader(control)
        if cancel.is_set():  # cancelled, then the parent quit: a second Ctrl-C
            os._exit(EXIT_INTERRUPTED)
        cancel.set()

    loop.add_reader(control, on_control)
    board = ProgressBoard(time.monotonic) if progress else None
    ticker = asyncio.ensure_future(_send_snapshots(board, reports)) if board else None
    try:
        return await work(cancel, board)
    finally:
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        if board is not None:
            _send_quietly(reports, "progress", board.snapshot())


async def _send_snapshots(board: ProgressBoard, reports: _Reports) -> None:
    while True:
        await asyncio.sleep(SNAPSHOT_INTERVAL)
        reports.send("progress", board.snapshot())
