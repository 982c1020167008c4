"""Receive files' chunks from a chunk transport and reassemble each file exactly once.

Rules:
- Every chunk's headers are read (``core.streamchunks.from_headers``) and its bytes
  checked against its hash before anything is written. A chunk whose headers are not a
  chunk's is terminated (no receiver can use it); one whose bytes do not match is
  refused with a delay (``nak``), so the broker delivers it again. A chunk of an offset
  already written for its generation is acknowledged and dropped unread: it adds nothing.
- The generation policy (``core.generations.decide``) says what a chunk of a path
  already held does: ACCEPT writes it (or drops it when its offset is already written),
  ADOPT discards the part file held and starts the chunk's generation, SKIP drops it,
  CORRUPT terminates it and records an error for that file; the receiver goes on.
- A chunk is written at its offset into the file's part file; the part files written by
  a batch are fsynced, and only then are the batch's chunks acknowledged. A chunk
  dropped (a duplicate, a stale generation) is acknowledged at once.
- When every chunk of a file's generation is written, the whole file's hash is checked;
  a mismatch re-reads that file's chunks from the stream (``ChunkTransport.replay``)
  and rewrites those that differ from the chunk written at their offset, once; then
  the part file is renamed atomically over the final name (``adapters.storage.Promoter``),
  or the file is recorded as failed.
- ``run`` stops when ``stop`` is set, or, given ``idle_exit``, once no chunk has come
  for that long; a file still incomplete then is recorded as failed (its part file
  stays, for the durable chunk map to come).
- Not yet: the map of written chunks lives in memory, so (1) a receiver restarted
  before a file completes cannot complete it (its acknowledged chunks do not come
  again), and (2) receivers sharing a group would each hold part of a file. Both need
  the durable chunk map in the catalog, shared by a group's receivers, which is next.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from skyhaul.adapters.sinks import LocalSink
from skyhaul.adapters.storage import DestinationRoot, Promoter
from skyhaul.core.generations import Generation, GenerationAction, decide
from skyhaul.core.streamchunks import (
    ChunkMeta,
    check_chunk,
    file_token,
    from_headers,
)
from skyhaul.errors import ChunkFormatError, IntegrityError
from skyhaul.ports.chunks import ChunkTransport, ConsumerSettings, Delivery

log = logging.getLogger(__name__)
#: Bytes read at once when the whole file is hashed.
_READ_SIZE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReceiveOptions:
    """How a receiver takes its chunks.

    Parameters
    ----------
    group : str
        The consumer group: receivers of one group share the chunks.
    consumer : ConsumerSettings
        Ack wait, delivery limit and pending limit of the group (when it is created).
    batch : int
        Chunks asked for at once.
    max_wait : float
        Seconds one fetch waits for chunks.
    refuse_delay : float
        Seconds before a refused (bad) chunk is delivered again.
    idle_exit : float or None
        Stop once no chunk came for this long (files still incomplete are failed).
    """

    group: str = "skyhaul"
    consumer: ConsumerSettings = field(default_factory=ConsumerSettings)
    batch: int = 64
    max_wait: float = 1.0
    refuse_delay: float = 1.0
    idle_exit: float | None = None


@dataclass(slots=True)
class ReceiveReport:
    """What a receiver did.

    Attributes
    ----------
    completed : list of str
        Files renamed into place, verified, in the order they completed.
    failed : dict of str to str
        Files that could not be completed, with why.
    errors : dict of str to str
        Files that had a chunk contradicting their generation (the file may still have
        completed).
    refused, duplicates, skipped, terminated : int
        Chunks refused for a bad hash, dropped as already written, dropped as stale,
        and terminated as malformed or corrupt.
    """

    completed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    refused: int = 0
    duplicates: int = 0
    skipped: int = 0
    terminated: int = 0


@dataclass(slots=True)
class _Assembly:
    """One generation of one file being reassembled (or done)."""

    first: ChunkMeta
    sink: LocalSink
    #: Offset -> hash of the chunk written there.
    written: dict[int, str] = field(default_factory=dict)
    settled: bool = False

    @property
    def generation(self) -> Generation:
        return Generation(self.first.file_hash, self.first.count, self.first.mtime_ns)

    @property
    def complete(self) -> bool:
        return len(self.written) == self.first.count


class Receiver:
    """Reassembles files under ``destination`` from the chunks of one transport.

    Parameters
    ----------
    transport : ChunkTransport
        Where the chunks come from.
    destination : Path
        The directory files are received into.
    options : ReceiveOptions, optional
        Group, batches, delays and idle exit.
    clock : callable, optional
        Monotonic seconds (injected by tests).
    """

    def __init__(
        self,
        transport: ChunkTransport,
        destination: Path,
        options: ReceiveOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._root = DestinationRoot(destination)
        self._options = options or ReceiveOptions()
        self._clock = clock
        self._promoter = Promoter()
        self._held: dict[str, _Assembly] = {}
        self.report = ReceiveReport()

    async def run(self, stop: asyncio.Event | None = None) -> ReceiveReport:
        """Receive until ``stop`` is set or, with ``idle_exit``, until idle.

        Raises
        ------
        BrokerError, BrokerUnavailableError
            When the broker fails; what was acknowledged is durable.
        """
        options = self._options
        await self._transport.ensure_stream()
        consumer = await self._transport.consumer(options.group, options.consumer)
        last_chunk = self._clock()
        try:
            while stop is None or not stop.is_set():
                batch = await consumer.fetch(options.batch, options.max_wait)
                if batch:
                    last_chunk = self._clock()
                    await self.take(batch)
                elif (
                    options.idle_exit is not None
                    and self._clock() - last_chunk >= options.idle_exit
                ):
                    self._give_up_unfinished()
                    break
        finally:
            await consumer.close()
            for assembly in self._held.values():
                assembly.sink.close()
        return self.report

    def _give_up_unfinished(self) -> None:
        """Record every file still incomplete as failed (idle: its chunks are not coming)."""
        for path, assembly in self._held.items():
            if not assembly.settled:
                assembly.settled = True
                assembly.sink.close()
                self.report.failed[path] = (
                    f"incomplete: {len(assembly.written)} of {assembly.first.count} chunks "
                    "came before the receiver went idle"
                )

    async def take(self, batch: list[Delivery]) -> None:
        """Handle one batch: write what is new, sync, then acknowledge; finish files."""
        written: list[tuple[Delivery, _Assembly]] = []
        for delivery in batch:
            assembly = await self._take_one(delivery)
            if assembly is not None:
                written.append((delivery, assembly))
        # Only files still held: one superseded within the batch was discarded (its
        # chunks are acknowledged all the same: nobody wants them any more).
        touched = {
            id(a): a for _, a in written if self._held.get(a.first.path) is a and a.sink.is_open
        }
        await asyncio.to_thread(_sync_all, [a.sink for a in touched.values()])
        for delivery, _ in written:
            await delivery.ack()
        for assembly in touched.values():
            if assembly.complete and not assembly.settled:
                await self._finish(assembly)

    async def _take_one(self, delivery: Delivery) -> _Assembly | None:
        """Write one chunk (returning its file) or settle it at once (returning None)."""
        report = self.report
        try:
            meta = from_headers(delivery.chunk.headers)
        except ChunkFormatError as exc:
            log.warning("terminated message %d: %s", delivery.chunk.sequence, exc)
            report.terminated += 1
            await delivery.term()
            return None
        held = self._held.get(meta.path)
        incoming = Generation(meta.file_hash, meta.count, meta.mtime_ns)
        action = decide(None if held is None else held.generation, incoming)
        if action is GenerationAction.CORRUPT:
            report.errors[meta.path] = (
                f"a chunk claims the same content in {meta.count} chunks, "
                f"not {held.first.count if held else '?'}"
            )
            report.terminated += 1
            await delivery.term()
            return None
        if action is GenerationAction.SKIP:
            report.skipped += 1
            await delivery.ack()
            return None
        if (
            held is not None
            and action is GenerationAction.ACCEPT
            and (held.settled or meta.offset in held.written)
        ):
            # Already written (and verified then): a copy, good or bad, adds nothing.
            report.duplicates += 1
            await delivery.ack()
            return None
        try:
            await asyncio.to_thread(check_chunk, meta, delivery.chunk.data)
        except IntegrityError as exc:
            log.warning("refused (attempt %d): %s", delivery.attempt, exc)
            report.refused += 1
            await delivery.nak(self._options.refuse_delay)
            return None
        if held is None or action is GenerationAction.ADOPT:
            held = self._adopt(meta, held)
        await asyncio.to_thread(held.sink.write_many_at, meta.offset, [delivery.chunk.data])
        held.written[meta.offset] = meta.chunk_hash
        return held

    def _adopt(self, meta: ChunkMeta, previous: _Assembly | None) -> _Assembly:
        """Hold ``meta``'s generation of its path, dropping any unfinished previous one."""
        if previous is not None and not previous.settled:
            previous.sink.discard()
        self.report.failed.pop(meta.path, None)
        sink = LocalSink(self._root.final_path(meta.path), self._promoter, self._root)
        sink.open(truncate=True)
        assembly = self._held[meta.path] = _Assembly(first=meta, sink=sink)
        return assembly

    async def _finish(self, assembly: _Assembly) -> None:
        """Verify the whole file, re-read it from the stream once if needed, promote it."""
        path = assembly.first.path
        if not await asyncio.to_thread(_matches, assembly):
            log.warning("%s does not match its hash; re-reading it from the stream", path)
            await self._reread(assembly)
            if not await asyncio.to_thread(_matches, assembly):
                assembly.settled = True
                assembly.sink.discard()
                self.report.failed[path] = "whole-file sha512 mismatch after a re-read"
                return
        await assembly.sink.commit()
        assembly.sink.close()
        assembly.settled = True
        self.report.completed.append(path)

    async def _reread(self, assembly: _Assembly) -> None:
        """Rewrite, from the stream, every chunk of the assembly's generation that differs
        from the one written at its offset (a chunk consistent with its own hash, but
        not with the file's, was taken first)."""
        first = assembly.first
        async for stored in self._transport.replay(file_token(first.path)):
            try:
                meta = from_headers(stored.headers)
                check_chunk(meta, stored.data)
            except (ChunkFormatError, IntegrityError):
                continue
            same_generation = (meta.file_hash, meta.count) == (first.file_hash, first.count)
            if same_generation and assembly.written.get(meta.offset) != meta.chunk_hash:
                assembly.written[meta.offset] = meta.chunk_hash
                await asyncio.to_thread(assembly.sink.write_many_at, meta.offset, [stored.data])
        await asyncio.to_thread(assembly.sink.sync)


def _sync_all(sinks: list[LocalSink]) -> None:
    for sink in sinks:
        sink.sync()


def _matches(assembly: _Assembly) -> bool:
    first, sink = assembly.first, assembly.sink
    whole = hashlib.sha512()
    offset = 0
    while offset < first.size:
        data = sink.read_at(offset, min(_READ_SIZE, first.size - offset))
        if not data:
            return False
        whole.update(data)
        offset += len(data)
    return whole.hexdigest() == first.file_hash
