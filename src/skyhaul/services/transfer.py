"""One file's transfer: the transfer contract of DESIGN.md, in one place.

Rules:
- Bytes land in ``<final>.part``. A byte range is recorded in the catalog's segment map
  only after it is fsynced (``Checkpointer``); resume trusts that map, never the size of
  the ``.part`` file.
- A resumed range is asked with ``If-Range``; only a 206 whose Content-Range starts
  exactly where we asked, for the size we know, is written. A 200 to a range request
  means the server ignored the range (or the file changed): the file starts again from
  byte 0 as one whole-body stream. A changed validator or size starts again too.
- Size and checksum are verified before promotion (sha256 always; also the expected
  checksum's own algorithm, or the server's RFC 9530 digest). A mismatch discards the
  part file and fails the attempt with class "integrity"; it never promotes.
- Then fsync, atomic rename, and the caller's single catalog transition to DOWNLOADED.
- Large files are split into segments fetched in parallel, each request admitted by the
  host's gate; a segment that fails transiently is resumed from where it got to, under
  the retry policy, within the same attempt.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from skyhaul.adapters.storage import PartFile, Promoter
from skyhaul.core.integrity import Checksum, MultiHasher, matches, parse_checksum
from skyhaul.core.model import Completion, FileRecord, TransferOptions
from skyhaul.core.progress import ProgressBoard
from skyhaul.core.ranges import ByteRange, merge_ranges, plan_segments
from skyhaul.core.retry import RetryPolicy
from skyhaul.errors import (
    ConnectError,
    IntegrityError,
    RemoteChangedError,
    TransferError,
)
from skyhaul.ports.transport import Body, RemoteInfo, Transport
from skyhaul.services.checkpoint import Checkpointer, SegmentLedger, Slot
from skyhaul.services.hostgate import HostGate

log = logging.getLogger("skyhaul.engine")

HASH_BLOCK = 4 << 20
#: Bytes between two checks for background checkpoints and hashing (at most).
POKE_EVERY = 1 << 20
#: Received buffers are gathered up to this size and written with one system call (at
#: most: both shrink with small segments, so that what a hard kill loses stays within
#: about one segment per file).
WRITE_BATCH = 1 << 20
#: Smaller writes are done inline: a thread hop would cost more than the copy.
INLINE_WRITE = 256 << 10
#: Transient classes a segment retries within its attempt; others fail the attempt.
_SEGMENT_FATAL = ("client", "integrity", "changed", "disk")


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


class RangeIgnored(Exception):
    """A range request was answered with the whole file: start again from byte 0."""


@dataclass(slots=True)
class TransferRun:
    """What a transfer needs from the engine around it (one per run)."""

    transport: Transport
    options: TransferOptions
    policy: RetryPolicy
    catalog_call: Callable[..., Awaitable[object]]
    owner: str
    board: ProgressBoard | None = None
    promoter: Promoter = field(default_factory=Promoter)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    random: Callable[[], float] = random.random


@dataclass(slots=True)
class FileTransfer:
    """Move one claimed file from its URL to its final path.

    Parameters
    ----------
    record : FileRecord
        The claimed catalog row.
    part : PartFile
        Where its bytes land (confined by the caller).
    gate : HostGate
        Admission for requests to the file's host.
    run : TransferRun
        Shared transport, options, retry policy, catalog access and progress board.
    """

    record: FileRecord
    part: PartFile
    gate: HostGate
    run: TransferRun
    key: str = ""
    fetched: int = 0
    expected: Checksum | None = None
    announced_digest: Checksum | None = None
    validator: str | None = None
    size: int | None = None
    ledger: SegmentLedger | None = None
    _hasher: MultiHasher | None = None
    _hashed: int = 0
    _hash_task: asyncio.Task[None] | None = None
    _hash_epoch: int = 0
    _thread_writes: set[asyncio.Future[None]] = field(default_factory=set)
    _checkpointer: Checkpointer | None = None
    _write_batch: int = WRITE_BATCH
    _poke_every: int = POKE_EVERY

    def __post_init__(self) -> None:
        self.key = str(self.record.id)
        segment_size = self.run.options.segment_size
        self._write_batch = max(16 << 10, min(WRITE_BATCH, segment_size // 8))
        self._poke_every = max(self._write_batch, min(POKE_EVERY, segment_size // 4))
        if self.record.checksum:
            self.expected = parse_checksum(self.record.checksum)
        self.validator = self.record.validator
        self.size = self.record.size

    # --- the whole transfer ---------------------------------------------------------

    async def execute(self) -> Completion:
        """Fetch, verify and promote the file; raise a TransferError on failure."""
        try:
            if self.size is not None and self.size <= self.run.options.segment_size:
                await self._whole_body()
            else:
                try:
                    await self._segmented()
                except RangeIgnored:
                    # A resumed range was answered with the whole file: start again.
                    await self._restart_from_zero()
                    await self._whole_body()
            return await self._verify_and_promote()
        finally:
            if self._checkpointer is not None:
                await self._checkpointer.close()
            await self._settle_threads()
            self.part.close()

    async def _restart_from_zero(self) -> None:
        # Segment writes of cancelled workers may still be running in threads: they must
        # end before the part file is emptied, or they would land in the new stream.
        await self._settle_threads()
        if self._checkpointer is not None:
            await self._checkpointer.close()
            self._checkpointer = None
        await self.run.catalog_call("reset_segments", self.record.id)
        if self.run.board is not None:
            self.run.board.restart_file(self.key)
        self.ledger = None

    # --- one answer for the whole file -------------------------------------------------

    async def _whole_body(self) -> None:
        """Ask for the whole file in one request and stream it."""
        self.part.open(truncate=True)
        started = await self.gate.acquire()
        error: BaseException | None = None
        try:
            async with self.run.transport.open(self.record.url) as body:
                await self._stream_whole(body)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self.gate.release(started, error)

    async def _stream_whole(self, body: Body) -> None:
        """Write a whole-file answer from byte 0, hashing in order as batches are written."""
        self._learn(body.info, body.info.size)
        hasher = self._hasher = self._new_hasher()
        self._hashed = 0
        self._start_progress(0)  # the part file was opened empty for this answer
        batch = WriteBatch()
        async for chunk in body.chunks():
            batch.add(chunk)
            self._advance(len(chunk))
            if batch.size >= self._write_batch:
                self._hashed = await self._write(batch.take(), self._hashed, hasher)
        self._hashed = await self._write(batch.take(), self._hashed, hasher)
        self._check_length(self._hashed)

    async def _write(
        self, buffers: list[bytes], offset: int, hasher: MultiHasher | None = None
    ) -> int:
        """Write ``buffers`` at ``offset`` (and hash them); return the offset after them.

        Large batches go to a worker thread, where the copy into the page cache (and the
        hashing) run beside the event loop; small ones are cheaper inline.
        """
        size = sum(len(b) for b in buffers)
        if not size:
            return offset

        def work() -> None:
            self.part.write_many_at(offset, buffers)
            if hasher is not None:
                for buffer in buffers:
                    hasher.update(buffer)

        if size >= INLINE_WRITE:
            job = asyncio.get_running_loop().run_in_executor(None, work)
            self._thread_writes.add(job)
            job.add_done_callback(self._thread_writes.discard)
            # Shielded: a cancelled caller leaves the write running, and _settle_threads
            # waits for it before the descriptor is closed or the file emptied.
            await asyncio.shield(job)
        else:
            work()
        return offset + size

    async def _settle_threads(self) -> None:
        """Wait for the writes and hashing still running in worker threads."""
        await self._stop_hashing()
        if self._thread_writes:
            done, _ = await asyncio.wait(set(self._thread_writes))
            for job in done:
                if not job.cancelled():
                    job.exception()  # retrieved: its caller was cancelled and will not

    # --- several range requests ------------------------------------------------------

    async def _segmented(self) -> None:
        """Fetch missing ranges in parallel (probing the size first when unknown)."""
        segment_size = self.run.options.segment_size
        done = await self._durable_ranges()
        self._checkpointer = Checkpointer(self, segment_size // 2)
        self._hasher = None
        if not done:
            self.part.open(truncate=True)
            self.ledger = SegmentLedger([])
            self._start_progress(0)
            probe = ByteRange(0, min(segment_size, self.size) if self.size else segment_size)
            if await self._fetch_range(probe, probe=True):
                return  # the server ignored the range and sent the whole file
        else:
            self.part.open(truncate=False)
            self.ledger = SegmentLedger(done)
        assert self.size is not None and self.ledger is not None
        if self.part.size() != self.size:
            self.part.truncate(self.size)
        if done:
            self._start_progress(self.ledger.covered())
        self._hasher = self._new_hasher()
        self._hashed = 0
        if not done:
            # Resume needs the validator and size the probe learned: record them now.
            await self.run.catalog_call(
                "set_validator",
                self.record.id,
                self.run.owner,
                validator=self.validator,
                size=self.size,
            )
        pieces = plan_segments(self.size, segment_size, self.ledger.written_ranges())
        queue: asyncio.Queue[ByteRange] = asyncio.Queue()
        for piece in pieces:
            queue.put_nowait(piece)
        workers = min(len(pieces), self.run.options.max_per_host)
        if workers:
            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(workers):
                        group.create_task(self._segment_worker(queue))
            except* RangeIgnored:
                raise RangeIgnored() from None
            except* TransferError as failures:
                raise failures.exceptions[0] from None
        self._kick_hasher(final=True)

    async def _segment_worker(self, queue: asyncio.Queue[ByteRange]) -> None:
        while not queue.empty():
            piece = queue.get_nowait()
            await self._fetch_range(piece, probe=False)
            if self._checkpointer is not None:
                self._checkpointer.poke()
            self._kick_hasher(final=False)

    async def _fetch_range(self, piece: ByteRange, *, probe: bool) -> bool:
        """Fetch ``piece``, resuming within it after transient failures.

        Returns True when a probe was answered with the whole file (already streamed).
        """
        assert self.ledger is not None
        position = piece.start
        end = piece.end
        failures = 0
        while position < end:
            wanted = ByteRange(position, end)
            slot: Slot | None = None
            started = await self.gate.acquire()
            error: BaseException | None = None
            try:
                async with self.run.transport.open(
                    self.record.url, wanted, None if probe else self.validator
                ) as body:
                    if probe and (not body.partial or _covers_whole_file(body)):
                        # The answer is the whole file (a 200, or a 206 for all of it):
                        # stream it as one, without a segment map.
                        await self._stream_whole(body)
                        return True
                    end = self._accept_range(body, wanted, probe=probe)
                    probe = False
                    slot = self.ledger.open_slot(position)
                    await self._stream_range(body, slot, end)
                    position = slot.written
            except TransferError as exc:
                error = exc
                failures += 1
                if exc.error_class.value in _SEGMENT_FATAL:
                    raise
                decision = self.run.policy.decide(
                    exc.error_class, failures, retry_after=exc.retry_after, random=self.run.random
                )
                if not decision.retry:
                    raise
                if slot is not None:
                    position = slot.written  # resume after the bytes already written
                log.debug("%s: %s; resuming range at %d", self.record.path, exc, position)
                self.gate.release(started, error)
                started = -1.0
                await self.run.sleep(decision.delay)
                continue
            except BaseException as exc:
                error = exc
                raise
            finally:
                if started >= 0:
                    self.gate.release(started, error)
        return False

    async def _stream_range(self, body: Body, slot: Slot, end: int) -> None:
        """Write a 206 body into ``slot`` up to ``end``; ``slot.written`` tracks the bytes."""
        received = slot.written
        batch = WriteBatch()
        since_poke = 0
        async for chunk in body.chunks():
            size = len(chunk)
            if received + size > end:
                raise IntegrityError(f"server sent more than the range ending at {end}")
            batch.add(chunk)
            received += size
            self._advance(size)
            if batch.size >= self._write_batch:
                since_poke += batch.size
                slot.written = await self._write(batch.take(), slot.written)
                if since_poke >= self._poke_every:
                    since_poke = 0
                    if self._checkpointer is not None:
                        self._checkpointer.poke()
                    self._kick_hasher(final=False)
        slot.written = await self._write(batch.take(), slot.written)
        if received < end:
            raise ConnectError(f"body cut short at byte {received} of a range ending at {end}")

    def _accept_range(self, body: Body, wanted: ByteRange, *, probe: bool) -> int:
        """Check a 206 answer against what was asked; return where its bytes end."""
        if not body.partial:
            raise RangeIgnored()
        content_range = body.content_range
        assert content_range is not None
        if content_range.start != wanted.start:
            raise IntegrityError(
                f"asked bytes from {wanted.start}, server sent from {content_range.start}"
            )
        total = content_range.total
        if probe:
            if total is None:
                raise IntegrityError("the server did not say the file's size (Content-Range */)")
            self._learn(body.info, total)
        else:
            if total is not None and total != self.size:
                raise RemoteChangedError(f"remote size changed from {self.size} to {total}")
            if body.info.validator and self.validator and body.info.validator != self.validator:
                raise RemoteChangedError("remote file changed (new validator)")
        if content_range.end > wanted.end:
            raise IntegrityError(f"Content-Range {content_range} exceeds the range asked")
        return content_range.end

    # --- what we learn from the first answer --------------------------------------------

    def _learn(self, info: RemoteInfo, size: int | None) -> None:
        if self.record.size is not None and size is not None and size != self.record.size:
            raise IntegrityError(
                f"size mismatch: expected {self.record.size} bytes, server has {size}"
            )
        self.size = size if size is not None else self.size
        self.validator = info.validator
        self.announced_digest = info.digest

    def _check_length(self, received: int) -> None:
        if self.size is not None and received != self.size:
            raise ConnectError(f"body cut short: {received} of {self.size} bytes")
        self.size = received

    # --- durability of ranges ----------------------------------------------------------

    async def _durable_ranges(self) -> list[ByteRange]:
        """Ranges recorded as durable, if the part file still holds them."""
        if self.size is None or not self.validator:
            return []
        rows = await self.run.catalog_call("segments", self.record.id)
        assert isinstance(rows, list)
        ranges = merge_ranges(ByteRange(start, end) for start, end in rows)
        if not ranges:
            return []
        if self.part.existing_size() < ranges[-1].end or ranges[-1].end > self.size:
            # The part file is gone or shorter than the map says: trust nothing.
            await self.run.catalog_call("reset_segments", self.record.id)
            return []
        return ranges

    # --- hashing in order, off the event loop ------------------------------------------

    def _new_hasher(self) -> MultiHasher:
        extra = self.expected.algorithm if self.expected else None
        if self.announced_digest is not None and self.announced_digest.algorithm != "sha256":
            extra = extra or self.announced_digest.algorithm
        return MultiHasher(extra if extra != "sha256" else None)

    def _kick_hasher(self, *, final: bool) -> None:
        """Hash the contiguous prefix written so far, in a worker thread."""
        if self._hasher is None or self.ledger is None:
            return  # still probing: hashing starts once the size is known
        if self._hash_task is not None and not self._hash_task.done():
            return
        prefix = self.ledger.contiguous_written()
        if prefix - self._hashed >= HASH_BLOCK or (final and prefix > self._hashed):
            self._hash_task = asyncio.ensure_future(
                asyncio.to_thread(self._hash_upto, prefix, self._hash_epoch)
            )

    def _hash_upto(self, end: int, epoch: int) -> None:
        """Hash the part file up to ``end`` (in a thread); stop early once ``epoch`` is over."""
        hasher = self._hasher
        assert hasher is not None
        while self._hashed < end and epoch == self._hash_epoch:
            block = self.part.read_at(self._hashed, min(HASH_BLOCK, end - self._hashed))
            if not block:
                break
            hasher.update(block)
            self._hashed += len(block)

    async def _stop_hashing(self) -> None:
        """End the hashing thread (at its next block) and wait for it.

        A thread cannot be cancelled: cancelling its task would return at once while the
        thread still reads the descriptor and moves ``_hashed`` under the next phase.
        """
        if self._hash_task is not None:
            task, self._hash_task = self._hash_task, None
            self._hash_epoch += 1
            await asyncio.wait([task])
            if not task.cancelled():
                task.exception()  # a failure here no longer matters: retrieve it

    # --- verification and promotion -------------------------------------------------------

    async def _verify_and_promote(self) -> Completion:
        assert self._hasher is not None and self.size is not None
        if self._hash_task is not None:
            await self._hash_task
            self._hash_task = None
        if self._hashed < self.size:
            await asyncio.to_thread(self._hash_upto, self.size, self._hash_epoch)
        on_disk = self.part.size()
        if on_disk != self.size or self._hashed != self.size:
            await self._discard()
            raise IntegrityError(f"size mismatch: {on_disk} bytes on disk, expected {self.size}")
        digests = self._hasher.digests()
        for expected in (self.expected, self.announced_digest):
            if expected is not None and not matches(expected, digests):
                await self._discard()
                got = digests.get(expected.algorithm, "?")
                raise IntegrityError(
                    f"checksum mismatch: expected {expected}, got {expected.algorithm}:{got}"
                )
        await self.run.promoter.promote(self.part)
        return Completion(
            file_id=self.record.id,
            size=self.size,
            sha256=digests["sha256"],
            validator=self.validator,
            fetched=self.fetched,
        )

    async def _discard(self) -> None:
        self.part.discard()
        await self.run.catalog_call("reset_segments", self.record.id)

    # --- progress -----------------------------------------------------------------------

    def _start_progress(self, done: int) -> None:
        if self.run.board is not None:
            self.run.board.start_file(self.key, self.record.path, self.size, done)

    def _advance(self, nbytes: int) -> None:
        self.fetched += nbytes
        if self.run.board is not None:
            self.run.board.advance(self.key, nbytes)


def _covers_whole_file(body: Body) -> bool:
    """True for a 206 whose Content-Range is the whole file (bytes 0 to the end)."""
    content_range = body.content_range
    return (
        content_range is not None
        and content_range.start == 0
        and content_range.total is not None
        and content_range.end == content_range.total
    )
