"""Changes under a directory, as they happen (watchdog: inotify on Linux).

Rules:
- ``DirectoryWatch`` reports the relative path (``/`` separators) of every file created,
  modified, closed or moved into place under its root, to a callback in the event loop
  that started it; directories are not reported (their files are).
- watchdog calls from its own thread; the callback is always run in the loop
  (``call_soon_threadsafe``), so it may touch the loop's state without a lock.
- Nothing is decided here: whether a path is wanted, settled or new is the caller's.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

#: Kinds of event that may leave a file with new content under its name.
_CONTENT_EVENTS = {"created", "modified", "closed", "moved"}


class _Relay(FileSystemEventHandler):
    def __init__(
        self, root: Path, loop: asyncio.AbstractEventLoop, report: Callable[[str], None]
    ) -> None:
        self._root = root
        self._loop = loop
        self._report = report

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in _CONTENT_EVENTS:
            return
        where = event.dest_path if event.event_type == "moved" else event.src_path
        path = Path(os.fsdecode(where))
        try:
            relative = path.relative_to(self._root).as_posix()
        except ValueError:
            return  # moved out of the tree
        self._loop.call_soon_threadsafe(self._report, relative)


class DirectoryWatch:
    """Report changed files under ``root`` to ``report`` while entered.

    Parameters
    ----------
    root : Path
        The directory watched, recursively.
    report : callable
        Called in the event loop with each changed file's path relative to ``root``.
    """

    def __init__(self, root: Path, report: Callable[[str], None]) -> None:
        self._root = root.resolve()
        self._report = report
        self._observer: BaseObserver | None = None

    async def __aenter__(self) -> DirectoryWatch:
        observer = Observer()
        relay = _Relay(self._root, asyncio.get_running_loop(), self._report)
        observer.schedule(relay, str(self._root), recursive=True)
        observer.start()
        self._observer = observer
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            await asyncio.to_thread(observer.join, 5.0)
