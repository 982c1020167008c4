"""Hashing a file's bytes in order, while they arrive out of order.

Rules:
- A whole-file answer is hashed as it is written (``absorb``, in the writing thread).
- Ranges fetched in parallel are hashed from the sink, in order, as the contiguous prefix
  grows (``kick``), in a worker thread, a block at a time: the event loop never hashes.
- A thread cannot be cancelled: ``stop`` ends the hashing thread at its next block and
  waits for it, so it never moves ``hashed`` under the next phase of the transfer.
- An algorithm that became needed after hashing began (a digest a mirror announced at a
  switch) is computed at ``finish`` from a second read of the sink: every check is made.
"""

from __future__ import annotations

import asyncio

from skyhaul.core.integrity import Checksum, Hasher, MultiHasher, new_hasher
from skyhaul.ports.sink import Sink

__all__ = ["HASH_BLOCK", "InOrderHash"]

#: Bytes read and hashed per step of the hashing thread.
HASH_BLOCK = 4 << 20


class InOrderHash:
    """The sha256 (and one other algorithm, when a check needs it) of a file's bytes.

    Parameters
    ----------
    sink : Sink
        Read back for ranges written out of order.
    checks : tuple of Checksum or None
        The expected checksums the result must be compared with (their algorithms are
        computed too).
    """

    def __init__(self, sink: Sink, checks: tuple[Checksum | None, ...]) -> None:
        extra = None
        for check in checks:  # a loop, not a generator: this runs once per file
            if check is not None and check.algorithm != "sha256":
                extra = check.algorithm
                break
        self.hasher = MultiHasher(extra)
        self.hashed = 0
        self._sink = sink
        self._task: asyncio.Task[None] | None = None
        self._epoch = 0

    def absorb(self, buffers: list[bytes]) -> None:
        """Hash buffers written in order from ``hashed`` (called in the writing thread)."""
        for buffer in buffers:
            self.hasher.update(buffer)
            self.hashed += len(buffer)

    @property
    def hashing(self) -> bool:
        """True while the hashing thread runs (a kick would do nothing)."""
        return self._task is not None and not self._task.done()

    def kick(self, prefix: int, *, final: bool) -> None:
        """Hash up to ``prefix`` in a worker thread, once a block is waiting (or ``final``)."""
        if self.hashing:
            return
        if prefix - self.hashed >= HASH_BLOCK or (final and prefix > self.hashed):
            self._task = asyncio.ensure_future(asyncio.to_thread(self._upto, prefix, self._epoch))

    def _upto(self, end: int, epoch: int) -> None:
        while self.hashed < end and epoch == self._epoch:
            block = self._sink.read_at(self.hashed, min(HASH_BLOCK, end - self.hashed))
            if not block:
                break
            self.hasher.update(block)
            self.hashed += len(block)

    async def finish(self, size: int, checks: tuple[Checksum | None, ...] = ()) -> dict[str, str]:
        """Hash whatever is left up to ``size``; return the digests by algorithm.

        Parameters
        ----------
        size : int
            The file's size.
        checks : tuple of Checksum or None
            The checksums the result will be compared with: an algorithm among them that
            was not hashed in order is computed now, from a second read of the sink.
        """
        if self._task is not None:
            await self._task
            self._task = None
        if self.hashed < size:
            await asyncio.to_thread(self._upto, size, self._epoch)
        digests = self.hasher.digests()
        late = {c.algorithm for c in checks if c is not None and c.algorithm not in digests}
        if late:
            digests |= await asyncio.to_thread(self._read_again, sorted(late), size)
        return digests

    def _read_again(self, algorithms: list[str], size: int) -> dict[str, str]:
        hashers: dict[str, Hasher] = {name: new_hasher(name) for name in algorithms}
        position = 0
        while position < size:
            block = self._sink.read_at(position, min(HASH_BLOCK, size - position))
            if not block:
                break
            for hasher in hashers.values():
                hasher.update(block)
            position += len(block)
        return {name: hasher.hexdigest() for name, hasher in hashers.items()}

    @property
    def busy(self) -> bool:
        """True while a hashing thread may run (then ``stop`` must be awaited)."""
        return self._task is not None

    async def stop(self) -> None:
        """End the hashing thread (at its next block) and wait for it."""
        if self._task is not None:
            task, self._task = self._task, None
            self._epoch += 1
            await asyncio.wait([task])
            if not task.cancelled():
                task.exception()  # a failure here no longer matters: retrieve it
