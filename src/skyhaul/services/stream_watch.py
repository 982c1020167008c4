"""Follow a directory and send each file once it has settled (``stream send --watch``).

Rules:
- A file is sent once it has been unchanged for the settle time (``core.settling``; 3 s
  by default). Files already there at the start wait only what is left of their settle
  time, judged by their modification time.
- A settled file whose size or modification time differs from what was last sent of it
  is sent as the next generation (1 the first time), so a file rewritten after it was
  sent reaches receivers again and the generation policy keeps the newer content. A file
  that changed while it was sent waits to settle again.
- A file no receiver could take (``core.streamchunks.check_path``) is logged and left
  out; the watch goes on. A broker error ends the watch.
- Generations are counted in memory for now; the durable upload registry in the catalog
  will keep them, and the chunks still to send, across restarts.
- It runs until ``stop`` is set; a file being sent then is finished first. Clocks are
  parameters, so tests drive time.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from skyhaul.adapters.dirwatch import DirectoryWatch
from skyhaul.core.paths import reserved_component
from skyhaul.core.settling import DEFAULT_SETTLE, Settling
from skyhaul.errors import ChunkFormatError, UsageError
from skyhaul.ports.chunks import ChunkTransport
from skyhaul.services.stream_send import (
    SendOptions,
    SendReport,
    check_chunk_size,
    list_files,
    send_file,
)

log = logging.getLogger(__name__)
#: The longest the loop waits before it looks at ``stop`` and its files again.
_TICK = 0.25


@dataclass(frozen=True, slots=True)
class _Sent:
    """What was last sent of a path: the identity it had, and its generation."""

    size: int
    mtime_ns: int
    generation: int


class DirectoryFollower:
    """Sends the files of ``root`` as they settle, through ``transport``.

    Parameters
    ----------
    transport : ChunkTransport
        Where chunks are published.
    root : Path
        The directory followed.
    options : SendOptions
        Chunk size, include glob and how much is in flight (its generation is ignored).
    settle : float
        Seconds a file must stay unchanged before it is sent.
    clock, wall : callable
        Monotonic seconds, and the wall clock modification times are compared with.
    """

    def __init__(
        self,
        transport: ChunkTransport,
        root: Path,
        options: SendOptions | None = None,
        *,
        settle: float = DEFAULT_SETTLE,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._transport = transport
        self._root = root
        self._options = options or SendOptions()
        self._settling = Settling(settle)
        self._clock = clock
        self._wall = wall
        self._sent: dict[str, _Sent] = {}
        self.report = SendReport()

    def _wanted(self, relative: str) -> bool:
        include = self._options.include
        if reserved_component(relative) is not None:
            return False
        return include is None or fnmatch.fnmatchcase(relative, include)

    def _changed(self, relative: str) -> None:
        if self._wanted(relative):
            self._settling.changed(relative, self._clock())

    async def run(self, stop: asyncio.Event) -> SendReport:
        """Follow the directory until ``stop`` is set; return what was sent.

        Raises
        ------
        UsageError
            When the root is not a directory, or a chunk would not fit in a message.
        BrokerError
            When the broker does not acknowledge a chunk.
        """
        if not self._root.is_dir():
            raise UsageError(f"not a directory: {self._root}")
        check_chunk_size(self._transport, self._options.chunk_size)
        await self._transport.ensure_stream()
        async with DirectoryWatch(self._root, self._changed):
            await asyncio.to_thread(self._scan)
            while not stop.is_set():
                for relative in self._settling.due(self._clock()):
                    await self._send(relative)
                due = self._settling.next_due()
                wait = _TICK if due is None else min(_TICK, max(0.0, due - self._clock()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
        return self.report

    def _scan(self) -> None:
        """Let the files already there wait what is left of their settle time."""
        now, wall = self._clock(), self._wall()
        for relative in list_files(self._root, self._options.include):
            try:
                age = wall - (self._root / relative).stat().st_mtime
            except FileNotFoundError:
                continue
            self._settling.changed(relative, now - min(max(age, 0.0), self._settling.settle))

    async def _send(self, relative: str) -> None:
        try:
            found = (self._root / relative).stat()
        except FileNotFoundError:
            return  # gone before it settled
        last = self._sent.get(relative)
        if last is not None and (last.size, last.mtime_ns) == (found.st_size, found.st_mtime_ns):
            return  # touched, not changed
        generation = 1 if last is None else last.generation + 1
        options = replace(self._options, generation=generation)
        try:
            sent = await send_file(self._transport, self._root, relative, options)
        except ChunkFormatError as exc:
            log.warning("not sent: %s", exc)
            return
        self.report.files.append(sent)
        if sent.changed:
            self._sent[relative] = _Sent(-1, -1, generation)
            self._settling.changed(relative, self._clock())
        else:
            self._sent[relative] = _Sent(found.st_size, found.st_mtime_ns, generation)
            log.info("sent %s (generation %d, %d chunks)", relative, generation, sent.chunks)
