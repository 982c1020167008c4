"""One file's transfer: the transfer contract of DESIGN.md, as a short pipeline.

Rules:
- request → ``core.resume`` decides → sink writer → in-order hash → checkpoints → verify
  → commit. This module sequences them; each step lives in its own module, and no rule
  about what an answer means is written here (the table decides).
- Bytes land in the sink. A byte range is recorded in the catalog's segment map only
  after it is synced (``Checkpointer``); resume trusts that map, never the sink's size.
  Checkpoints come by bytes or by time, whichever is first. What a kill costs a file
  (received, not recorded) stays within about one segment: its ranges' write batches
  share a quarter segment and are written by the checkpointer's ``due`` time, a
  checkpoint starts at half a segment, and a range waits for the checkpoint under way
  when a segment is unrecorded (``_stream_range``).
- Files up to one segment take one request. Larger ones are split into segments fetched
  in parallel, each request admitted by its host's gate; a segment that breaks off
  transiently is resumed where it got to, under the retry policy, within the attempt
  (after a wait of ``options.max_wait`` at most: a longer one ends the attempt, and the
  engine records when the file is due).
- Every body, of any transport, is read under one ``BodyWatch``: no byte past the known
  size or the range asked (``integrity``), no slower than the minimum speed
  (``read_timeout``).
- Size and checksum are verified before commit (sha256 always; also the expected
  checksum's own algorithm, or the server's RFC 9530 digest). A mismatch discards the
  bytes and fails the attempt with class "integrity"; it never commits. Then the run's
  content check, if any (FITS, with ``fits_metadata``), reads the verified bytes: a
  failure there is an integrity failure too; what it read (the headers) goes with the
  completion.
- A file with several sources moves to the next one when its source fails
  (``sources``), keeping the durable bytes; a transfer that mixed sources and fails
  verification is redone once from a single source.
- A restart (the durable bytes are stale: the remote file changed) forgets the size and
  digest learned with them; the whole-file answer that follows tells them again, and its
  validator and size are recorded before its body, so a later attempt resumes the new
  content, not the old one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from types import TracebackType

from skyhaul.core.integrity import Checksum, matches, parse_checksum
from skyhaul.core.model import Completion, FileRecord, TransferOptions
from skyhaul.core.progress import ProgressBoard
from skyhaul.core.ranges import ByteRange, iter_segments, merge_ranges
from skyhaul.core.redact import redact_url
from skyhaul.core.resume import Asked, Verdict
from skyhaul.core.retry import MOVES_TO_NEXT_SOURCE, RESUMED_WITHIN_ATTEMPT, RetryPolicy
from skyhaul.core.speedfloor import SpeedFloor
from skyhaul.errors import (
    ConnectError,
    IntegrityError,
    RemoteChangedError,
    TransferError,
)
from skyhaul.ports.catalog import SegmentMap
from skyhaul.ports.content import ContentCheck
from skyhaul.ports.sink import Sink
from skyhaul.ports.transport import Body, Transports
from skyhaul.services.hostgate import GateRegistry
from skyhaul.services.transfer.answers import Restart, SourceDiffers, judge, refused
from skyhaul.services.transfer.bounds import BodyWatch
from skyhaul.services.transfer.checkpoint import Checkpointer, SegmentLedger, Slot
from skyhaul.services.transfer.hashing import InOrderHash
from skyhaul.services.transfer.sources import FileSource, SourceList
from skyhaul.services.transfer.writer import WRITE_BATCH, SinkWriter, WriteBatch

__all__ = ["FileTransfer", "TransferRun"]

log = logging.getLogger("skyhaul.engine")

#: Bytes between two kicks of the background hashing (at most). Checkpoints weigh every
#: write (``Checkpointer.wrote``).
HASH_KICK_EVERY = 1 << 20
#: Smallest write batch (small segments, many ranges at once).
SMALLEST_BATCH = 16 << 10
#: Tries of a range at one source, after its first, when the file has another source to
#: go to: a host refusing connections would otherwise cost every range its whole backoff.
MIRROR_PATIENCE = 1


@dataclass(slots=True)
class TransferRun:
    """What every transfer of a run shares.

    Parameters
    ----------
    transports : Transports
        The transport of each URL's scheme.
    segment_map : SegmentMap
        Durable ranges and validators, in the catalog.
    gates : GateRegistry
        Per-host admission (the adaptive politeness window).
    options : TransferOptions
        Segment size, per-host ceiling and the rest.
    policy : RetryPolicy
        Backoff of ranges resumed within an attempt.
    owner : str
        The lease owner (the catalog checks it on every write).
    board : ProgressBoard or None
        Where progress goes.
    sleep, random
        Injected for tests.
    monotonic : callable
        Seconds for checkpoints by time (the engine's clock).
    content_check : ContentCheck or None
        Reads each file's verified bytes before promotion (None: no check).
    """

    transports: Transports
    segment_map: SegmentMap
    gates: GateRegistry
    options: TransferOptions
    policy: RetryPolicy
    owner: str
    board: ProgressBoard | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    random: Callable[[], float] = random.random
    monotonic: Callable[[], float] = time.monotonic
    content_check: ContentCheck | None = None
    floor: SpeedFloor = field(init=False)
    """The minimum speed of every body (from the options)."""

    def __post_init__(self) -> None:
        self.floor = SpeedFloor(self.options.min_speed, self.options.min_speed_time)


@dataclass(slots=True)
class FileTransfer:
    """Move one claimed file from its sources to its final name.

    Parameters
    ----------
    record : FileRecord
        The claimed catalog row.
    sink : Sink
        Where its bytes land (confined by the caller).
    run : TransferRun
        What the run's transfers share.
    """

    record: FileRecord
    sink: Sink
    run: TransferRun
    key: str = ""
    fetched: int = 0
    """Bytes received over the network in this attempt."""
    size: int | None = None
    expected: Checksum | None = None
    announced: Checksum | None = None
    """A whole-file digest a source announced (RFC 9530 ``Repr-Digest``)."""
    sources: SourceList = field(init=False)
    ledger: SegmentLedger | None = None
    _writer: SinkWriter = field(init=False)
    _hash: InOrderHash | None = None
    _checkpointer: Checkpointer | None = None
    _write_batch: int = WRITE_BATCH
    _kick_every: int = HASH_KICK_EVERY
    _since_kick: int = 0
    """Bytes written into the sink, by every range, since the hash was last kicked."""
    _streaming: int = 0
    """Range bodies being read now."""
    _range_batch: int = WRITE_BATCH
    """Write batch of each range: together they hold about a quarter segment at most."""
    _held: int = 0
    """Bytes received by the ranges and not handed to the writer yet (their batches)."""

    def __post_init__(self) -> None:
        self.key = str(self.record.id)
        segment_size = self.run.options.segment_size
        self._write_batch = max(SMALLEST_BATCH, min(WRITE_BATCH, segment_size // 8))
        self._kick_every = max(self._write_batch, min(HASH_KICK_EVERY, segment_size // 4))
        self._range_batch = self._write_batch
        if self.record.checksum:
            self.expected = parse_checksum(self.record.checksum)
        self.size = self.record.size
        self.sources = SourceList(
            self.record.urls, self.record.validator, self.record.validator_url
        )
        self._writer = SinkWriter(self.sink)

    @property
    def validator(self) -> str | None:
        """The validator of the current source's copy."""
        return self.sources.current.validator

    # --- the pipeline ------------------------------------------------------------------

    async def execute(self) -> Completion:
        """Fetch, verify and commit the file; raise a TransferError on failure."""
        try:
            await self._fetch()
            while True:
                mixed = self.sources.mixed
                try:
                    return await self._verify_and_commit()
                except IntegrityError as exc:
                    # The bytes are forgotten. Bytes from two sources do not make the
                    # file: redo it from one. Bytes from one: try the next source.
                    if not self.sources.refetch(self.sources.current, mixed=mixed):
                        raise
                    log.info(
                        "%s: %s; fetching it again from %s",
                        self.record.path,
                        exc,
                        redact_url(self.sources.current.url),
                    )
                    await self._fetch()
        except RemoteChangedError:
            await self._forget_bytes()  # the next attempt starts from byte 0
            raise
        finally:
            await self._quiesce()
            self.sink.close()

    async def _fetch(self) -> None:
        if self.size is not None and self.size <= self.run.options.segment_size:
            await self._whole_from_any_source()
            return
        try:
            await self._segmented()
        except Restart:
            await self._restart_from_zero()
            await self._whole_from_any_source(record=True)

    async def _quiesce(self) -> None:
        """Stop background work: checkpoints, hashing and writes still in threads."""
        if self._checkpointer is not None:
            checkpointer, self._checkpointer = self._checkpointer, None
            await checkpointer.close()
        hash_, self._hash = self._hash, None
        if hash_ is not None and hash_.busy:
            await hash_.stop()
        if self._writer.busy:
            await self._writer.settle()

    async def _restart_from_zero(self) -> None:
        # Segment writes of cancelled workers may still be running in threads: they must
        # end before the sink is emptied, or they would land in the new stream.
        await self._quiesce()
        await self.run.segment_map.reset_segments(self.record.id)
        if self.run.board is not None:
            self.run.board.restart_file(self.key)
        self.ledger = None
        self.sources.restarted()
        # The remote file changed (or stopped honouring ranges): its size and digest may
        # have changed with it. The whole answer tells them again.
        self.size = None
        self.announced = None

    async def _forget_bytes(self) -> None:
        await self._quiesce()
        self.sink.discard()
        await self.run.segment_map.reset_segments(self.record.id)
        self.ledger = None
        self.sources.restarted()

    # --- asking, and what the answer means (core.resume decides) ----------------------

    def _ask(self, source: FileSource, asked: Asked, wanted: ByteRange | None) -> _Asking:
        """Open ``wanted`` (or the whole file) at ``source``; judge the answer on entry."""
        return _Asking(self, source, asked, wanted)

    def _move_on(self, source: FileSource, error: TransferError | None, *, drop: bool) -> bool:
        """Continue on the next source after ``source`` failed; False when there is none."""
        if error is not None and error.error_class not in MOVES_TO_NEXT_SOURCE:
            return False
        if not self.sources.move_on(source, drop=drop):
            return False
        if self.run.board is not None:
            self.run.board.set_source(self.key, self.sources.current.scheme)
        log.info(
            "%s: %s; continuing from %s",
            self.record.path,
            error or "the source holds another file",
            redact_url(self.sources.current.url),
        )
        return True

    def _drop(self, source: FileSource, why: SourceDiffers) -> None:
        """Drop ``source`` (it holds another file) for the next; IntegrityError if none."""
        if self._move_on(source, None, drop=True):
            return
        if len(self.record.urls) == 1:
            raise IntegrityError(str(why)) from None
        raise IntegrityError(f"no source holds the same file: {why}") from None

    # --- one answer for the whole file -------------------------------------------------

    async def _whole_from_any_source(self, *, record: bool = False) -> None:
        """Fetch the whole file in one request, moving on to the next source if need be.

        ``record``: write the answer's validator and size to the catalog before its body
        (after a restart, so that a later attempt does not hold the new content to the
        old size).
        """
        while True:
            source = self.sources.current
            try:
                await self._whole_body(source, record)
                return
            except TransferError as exc:
                if not self._move_on(source, exc, drop=False):
                    raise
            except SourceDiffers as exc:
                self._drop(source, exc)

    async def _whole_body(self, source: FileSource, record: bool) -> None:
        """Ask for the whole file in one request and stream it."""
        self.sink.open(truncate=True)
        gate = self.run.gates.for_url(source.url)
        started = await gate.acquire()
        error: BaseException | None = None
        try:
            async with self._ask(source, Asked.WHOLE, None) as (body, _):
                await self._stream_whole(body, source, record=record)
        except BaseException as exc:
            error = exc
            raise
        finally:
            gate.release(started, error)

    async def _stream_whole(self, body: Body, source: FileSource, *, record: bool = False) -> None:
        """Write a whole-file answer from byte 0, hashing it in order as it is written."""
        self._learn(body, source, body.info.size)
        if record:
            await self._record_validator()
        self.sources.restarted()
        self.ledger = None
        hash_ = self._hash = InOrderHash(self.sink, (self.expected, self.announced))
        self._start_progress(0)  # the sink was opened empty for this answer
        batch = WriteBatch()
        position = 0
        size = self.size
        too_much = f"the server sent more than the {size} bytes of the file"
        async with BodyWatch(self.run.floor, size, too_much) as watch:
            async for chunk in body.chunks():
                watch.take(len(chunk))
                batch.add(chunk)
                self._advance(len(chunk))
                if batch.size >= self._write_batch:
                    position = await self._writer.write(batch.take(), position, hash_.absorb)
        position = await self._writer.write(batch.take(), position, hash_.absorb)
        source.served = position
        if self.size is not None and position != self.size:
            raise ConnectError(f"body cut short: {position} of {self.size} bytes")
        self.size = position

    def _learn(self, body: Body, source: FileSource, size: int | None) -> None:
        """Take the size, validator and digest from a first answer."""
        self.size = size if size is not None else self.size
        source.validator = body.info.validator
        source.introduced = True
        if body.info.digest is not None:
            self.announced = body.info.digest

    # --- several range requests --------------------------------------------------------

    async def _segmented(self) -> None:
        """Fetch missing ranges in parallel (probing the size first when unknown)."""
        segment_size = self.run.options.segment_size
        done = await self._durable_ranges()
        if not done:
            self.sink.open(truncate=True)
            ledger = self.ledger = SegmentLedger([])
            self._checkpointer = self._new_checkpointer(ledger)
            self._start_progress(0)
            probe = ByteRange(0, min(segment_size, self.size) if self.size else segment_size)
            if await self._fetch_range(probe, probe=True):
                return  # the answer was the whole file, streamed as such
        else:
            self.sink.open(truncate=False)
            ledger = self.ledger = SegmentLedger(done)
            self._checkpointer = self._new_checkpointer(ledger)
            # The durable bytes came from the source their validator belongs to.
            self.sources.current.introduced = True
            self.sources.current.served = ledger.covered()
        assert self.size is not None
        if self.sink.size() != self.size:
            self.sink.truncate(self.size)
        if done:
            self._start_progress(ledger.covered())
        self._hash = InOrderHash(self.sink, (self.expected, self.announced))
        if not done:
            # Resume needs the validator and size the probe learned: record them now.
            await self._record_validator()
        # Made as the workers take them: the size is the server's word, however large.
        pieces = iter_segments(self.size, segment_size, ledger.written_ranges())
        first = list(itertools.islice(pieces, self.run.options.max_per_host))
        workers = len(first)
        if workers:
            shared = itertools.chain(first, pieces)
            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(workers):
                        group.create_task(self._segment_worker(shared))
            except* Restart as restart:
                raise restart.exceptions[0] from None
            except* TransferError as failures:
                raise failures.exceptions[0] from None
        self._hash.kick(ledger.contiguous_written(), final=True)

    async def _record_validator(self) -> None:
        source = self.sources.current
        await self.run.segment_map.set_validator(
            self.record.id,
            self.run.owner,
            validator=source.validator,
            size=self.size,
            url=None if source.url == self.record.url else source.url,
        )

    def _new_checkpointer(self, ledger: SegmentLedger) -> Checkpointer:
        return Checkpointer(
            self.record.id,
            self.sink,
            self.run.segment_map,
            ledger,
            threshold=self.run.options.segment_size // 2,
            interval=self.run.options.checkpoint_interval,
            clock=self.run.monotonic,
        )

    async def _segment_worker(self, pieces: Iterator[ByteRange]) -> None:
        for piece in pieces:  # shared by the workers: each takes the next one
            await self._fetch_range(piece, probe=False)
            self._poke()

    def _share_batches(self, change: int) -> None:
        """Count a range that starts (+1) or ends (-1) reading its body, and share a
        quarter segment among the write batches of those reading."""
        self._streaming += change
        share = self.run.options.segment_size // 4 // max(1, self._streaming)
        self._range_batch = max(SMALLEST_BATCH, min(self._write_batch, share))

    async def _write_held(self, slot: Slot, batch: WriteBatch) -> None:
        """Write ``batch`` (a range's received bytes) at ``slot.written``, and count it."""
        nbytes = batch.size
        if not nbytes:
            return
        self._held -= nbytes
        slot.written = await self._writer.write(batch.take(), slot.written)
        self._wrote(nbytes)

    def _wrote(self, nbytes: int) -> None:
        """Count bytes a range wrote: the checkpointer weighs every write; the hash is
        kicked every ``_kick_every`` bytes of the file."""
        if self._checkpointer is not None:
            self._checkpointer.wrote(nbytes)
        self._since_kick += nbytes
        if self._since_kick >= self._kick_every:
            self._since_kick = 0
            self._kick_hash()

    def _poke(self) -> None:
        """Start background checkpoints and hashing when enough bytes wait for them."""
        if self._checkpointer is not None:
            self._checkpointer.poke()
        self._kick_hash()

    def _kick_hash(self) -> None:
        hash_ = self._hash
        # The contiguous prefix is worth computing (a merge of every slot) only when
        # the hashing thread is idle and could take it.
        if hash_ is not None and self.ledger is not None and not hash_.hashing:
            hash_.kick(self.ledger.contiguous_written(), final=False)

    async def _fetch_range(self, piece: ByteRange, *, probe: bool) -> bool:
        """Fetch ``piece``, resuming within it after transient failures.

        Returns True when a probe was answered with the whole file (already streamed).
        """
        assert self.ledger is not None
        position, end = piece.start, piece.end
        failures = 0
        while position < end:
            source = self.sources.current
            asked = Asked.PROBE if probe else Asked.RESUME if source.introduced else Asked.SWITCH
            wanted = ByteRange(position, end)
            slot: Slot | None = None
            gate = self.run.gates.for_url(source.url)
            started = -1.0  # not admitted (yet): nothing to release
            error: BaseException | None = None
            try:
                # Inside: a host paused past the longest wait refuses at once, and the file
                # may go on at another source.
                started = await gate.acquire()
                async with self._ask(source, asked, wanted) as (body, verdict):
                    if verdict is Verdict.STREAM_WHOLE:
                        await self._stream_whole(body, source)
                        return True
                    if asked is not Asked.RESUME:
                        self._learn(body, source, self.size if self.size else _total(body))
                    if asked is Asked.SWITCH and source.validator:
                        # A resume after a kill asks this source first, with its validator.
                        await self._record_validator()
                    probe = False
                    assert body.content_range is not None
                    end = body.content_range.end
                    slot = self.ledger.open_slot(position)
                    await self._stream_range(body, slot, end, source)
                    position = slot.written
            except SourceDiffers as exc:
                error = exc
                self._drop(source, exc)
                continue
            except TransferError as exc:
                error = exc
                failures += 1
                if slot is not None:
                    position = slot.written  # resume after the bytes already written
                patient = failures <= MIRROR_PATIENCE or not self.sources.has_next()
                if exc.error_class in RESUMED_WITHIN_ATTEMPT and patient:
                    decision = self.run.policy.decide(
                        exc.error_class,
                        failures,
                        retry_after=exc.retry_after,
                        random=self.run.random,
                    )
                    if decision.within(self.run.options.max_wait):
                        log.debug("%s: %s; resuming range at %d", self.record.path, exc, position)
                        gate.release(started, error)
                        started = -1.0
                        await self.run.sleep(decision.delay)
                        continue
                if not self._move_on(source, exc, drop=False):
                    raise
                failures = 0
                continue
            except BaseException as exc:
                error = exc
                raise
            finally:
                if started >= 0:
                    gate.release(started, error)
        return False

    async def _stream_range(self, body: Body, slot: Slot, end: int, source: FileSource) -> None:
        """Write a 206 body into ``slot`` up to ``end``; ``slot.written`` tracks the bytes.

        What a kill would cost the file (bytes received and not recorded as durable) stays
        below about one segment: the ranges' batches share a quarter segment, the
        checkpointer starts at half a segment, and a range whose next chunk finds a
        segment unrecorded waits for the checkpoint under way (a disk or catalog slower
        than the network holds the network back).
        """
        checkpointer = self._checkpointer
        assert checkpointer is not None  # ranges are fetched between _segmented's start and end
        batch = WriteBatch()
        clock = self.run.monotonic
        limit = self.run.options.segment_size
        too_much = f"server sent more than the range ending at {end}"
        watch = BodyWatch(self.run.floor, end - slot.written, too_much)
        self._share_batches(+1)
        try:
            async with watch:
                async for chunk in body.chunks():
                    size = len(chunk)
                    watch.take(size)
                    batch.add(chunk)
                    self._held += size
                    self._advance(size)
                    # Written when the batch is full, or when a checkpoint is due by time
                    # (a slow body's bytes must not wait for a full batch).
                    if batch.size >= self._range_batch or clock() >= checkpointer.due:
                        await self._write_held(slot, batch)
                    if checkpointer.unrecorded + self._held >= limit:
                        await self._write_held(slot, batch)  # for the next checkpoint
                        await checkpointer.idle()
            await self._write_held(slot, batch)
        finally:
            self._held -= batch.size  # dropped with a body that broke off
            self._share_batches(-1)
            source.served += slot.written - slot.start
        received = slot.written
        if received < end:
            raise ConnectError(f"body cut short at byte {received} of a range ending at {end}")

    # --- durability of ranges ----------------------------------------------------------

    async def _durable_ranges(self) -> list[ByteRange]:
        """Ranges recorded as durable, if the sink still holds them."""
        if self.size is None or not self.validator:
            return []
        rows = await self.run.segment_map.segments(self.record.id)
        ranges = merge_ranges(ByteRange(start, end) for start, end in rows)
        if not ranges:
            return []
        if self.sink.existing_size() < ranges[-1].end or ranges[-1].end > self.size:
            # The sink is gone or shorter than the map says: trust nothing.
            await self.run.segment_map.reset_segments(self.record.id)
            return []
        return ranges

    # --- verification and commit -------------------------------------------------------

    async def _verify_and_commit(self) -> Completion:
        assert self._hash is not None and self.size is not None
        digests = await self._hash.finish(self.size, (self.expected, self.announced))
        on_disk = self.sink.size()
        if on_disk != self.size or self._hash.hashed != self.size:
            await self._forget_bytes()
            raise IntegrityError(f"size mismatch: {on_disk} bytes on disk, expected {self.size}")
        for expected in (self.expected, self.announced):
            if expected is not None and not matches(expected, digests):
                await self._forget_bytes()
                got = digests.get(expected.algorithm, "?")
                raise IntegrityError(
                    f"checksum mismatch: expected {expected}, got {expected.algorithm}:{got}"
                )
        headers = None
        check = self.run.content_check
        if check is not None:
            try:
                headers = await check.inspect(self.sink, self.size, self.record.path)
            except IntegrityError:
                await self._forget_bytes()
                raise
        await self.sink.commit()
        return Completion(
            file_id=self.record.id,
            size=self.size,
            sha256=digests["sha256"],
            validator=self.validator,
            fetched=self.fetched,
            headers=headers,
        )

    # --- progress ----------------------------------------------------------------------

    def _start_progress(self, done: int) -> None:
        if self.run.board is not None:
            source = self.sources.current.scheme
            self.run.board.start_file(self.key, self.record.path, self.size, done, source)

    def _advance(self, nbytes: int) -> None:
        self.fetched += nbytes
        if self.run.board is not None:
            self.run.board.advance(self.key, nbytes)


def _total(body: Body) -> int | None:
    content_range = body.content_range
    return content_range.total if content_range is not None else body.info.size


class _Asking:
    """One request and its judged answer, as an async context manager.

    Written out rather than an ``AsyncExitStack`` or a generator: it runs once per
    request, and small files make thousands of requests a second.
    """

    __slots__ = ("_asked", "_opened", "_source", "_transfer", "_wanted")

    def __init__(
        self, transfer: FileTransfer, source: FileSource, asked: Asked, wanted: ByteRange | None
    ) -> None:
        self._transfer = transfer
        self._source = source
        self._asked = asked
        self._wanted = wanted
        self._opened: AbstractAsyncContextManager[Body] | None = None

    async def __aenter__(self) -> tuple[Body, Verdict]:
        transfer, source, asked = self._transfer, self._source, self._asked
        sent = source.validator if asked is Asked.RESUME else None
        transport = transfer.run.transports.for_url(source.url)
        opened = self._opened = transport.open(source.url, self._wanted, sent)
        try:
            body = await opened.__aenter__()
        except RemoteChangedError as exc:
            refused(asked, exc)
        try:
            verdict = judge(
                asked,
                body,
                self._wanted,
                known_size=transfer.size,
                sent=sent,
                known_digest=transfer.announced if asked is Asked.SWITCH else None,
            )
        except BaseException:
            await opened.__aexit__(*sys.exc_info())
            raise
        return body, verdict

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> bool | None:
        assert self._opened is not None
        return await self._opened.__aexit__(kind, error, trace)
