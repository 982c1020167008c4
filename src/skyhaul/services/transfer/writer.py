"""Writing received bytes into a sink: batched, and off the event loop when large.

Rules:
- Received buffers are gathered into batches and written with one system call; batches
  shrink with small segments, so that what a hard kill loses stays within about one
  segment per file.
- Large batches are written in a worker thread (the copy into the page cache, and the
  whole-stream hashing, run beside the event loop); small ones inline, where a thread hop
  would cost more than the copy.
- A worker thread cannot be cancelled. A cancelled caller leaves its write running;
  ``settle`` waits for every such write before the sink is emptied or closed, so no
  stale write can land in a restarted stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from skyhaul.ports.sink import Sink

__all__ = ["INLINE_WRITE", "WRITE_BATCH", "SinkWriter", "WriteBatch"]

#: Largest batch of received buffers written with one system call.
WRITE_BATCH = 1 << 20
#: Smaller writes are done inline: a thread hop would cost more than the copy.
INLINE_WRITE = 256 << 10


class WriteBatch:
    """Received buffers waiting to be written together."""

    def __init__(self) -> None:
        self.buffers: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> None:
        """Keep ``chunk`` for the next write."""
        self.buffers.append(chunk)
        self.size += len(chunk)

    def take(self) -> list[bytes]:
        """Hand over the kept buffers and start empty."""
        buffers, self.buffers, self.size = self.buffers, [], 0
        return buffers


class SinkWriter:
    """Writes batches into one sink and keeps track of writes still in worker threads.

    Parameters
    ----------
    sink : Sink
        Where the bytes go.
    """

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self._threads: set[asyncio.Future[None]] = set()

    async def write(
        self,
        buffers: list[bytes],
        offset: int,
        then: Callable[[list[bytes]], None] | None = None,
    ) -> int:
        """Write ``buffers`` at ``offset``; return the offset after them.

        ``then`` runs on the buffers right after they are written, in the same thread
        (the whole-stream hash).
        """
        size = sum(len(b) for b in buffers)
        if not size:
            return offset
        sink = self.sink

        def work() -> None:
            sink.write_many_at(offset, buffers)
            if then is not None:
                then(buffers)

        if size >= INLINE_WRITE:
            job = asyncio.get_running_loop().run_in_executor(None, work)
            self._threads.add(job)
            job.add_done_callback(self._threads.discard)
            # Shielded: a cancelled caller leaves the write running, and settle()
            # waits for it before the sink is closed or emptied.
            await asyncio.shield(job)
        else:
            work()
        return offset + size

    @property
    def busy(self) -> bool:
        """True while a write may still run in a worker thread."""
        return bool(self._threads)

    async def settle(self) -> None:
        """Wait for the writes still running in worker threads."""
        if self._threads:
            done, _ = await asyncio.wait(set(self._threads))
            for job in done:
                if not job.cancelled():
                    job.exception()  # retrieved: its caller was cancelled and will not
