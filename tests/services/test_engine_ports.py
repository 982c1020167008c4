"""The engine through its ports alone: a catalog, a transport and sinks of the test's own.

Nothing here is SQLAlchemy, aiohttp or a disk file: if the engine reached past its ports
(a catalog method called by name, a transport it built itself, a part file it opened),
these fakes would not be enough to run it.
"""

from __future__ import annotations

import errno
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import (
    AttemptRecord,
    Completion,
    FileRecord,
    Selection,
    TransferOptions,
)
from skyhaul.core.ranges import ByteRange, ContentRange
from skyhaul.errors import ClientError
from skyhaul.ports.catalog import Claims, SegmentMap
from skyhaul.ports.sink import Sink, Sinks
from skyhaul.ports.transport import Body, RemoteInfo, Transport, Transports
from skyhaul.services.engine import Engine

NOW = datetime(2030, 1, 1, tzinfo=UTC)
KIB = 1024


@dataclass
class MemoryCatalog:
    """Claims and a segment map in dicts."""

    files: dict[int, FileRecord]
    completed: dict[int, Completion] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    attempts: list[AttemptRecord] = field(default_factory=list)
    segments_of: dict[int, list[tuple[int, int]]] = field(default_factory=dict)

    async def claim_batch(
        self,
        owner: str,
        limit: int,
        *,
        now: datetime,
        lease_seconds: float,
        selection: Selection | None = None,
        job_id: int | None = None,
    ) -> list[FileRecord]:
        due = [f for f in self.files.values() if f.state is FileState.DISCOVERED][:limit]
        for record in due:  # a claim is an attempt, as the catalog counts them
            self.files[record.id] = replace(
                record, state=FileState.DOWNLOADING, lease_owner=owner, attempts=record.attempts + 1
            )
        return [self.files[f.id] for f in due]

    async def renew_leases(
        self,
        owner: str,
        file_ids: Sequence[int],
        *,
        now: datetime,
        lease_seconds: float,
        bytes_done: Mapping[int, int] | None = None,
    ) -> set[int]:
        return set(file_ids)

    async def release(self, file_ids: Sequence[int], owner: str, *, now: datetime) -> int:
        return 0

    async def recover_stale(self, *, now: datetime) -> int:
        return 0

    async def leased_files(self) -> list[FileRecord]:
        return []

    async def complete_many(
        self,
        items: Sequence[Completion],
        owner: str,
        *,
        now: datetime,
        attempts: Sequence[AttemptRecord] = (),
    ) -> set[int]:
        self.attempts.extend(attempts)
        for item in items:
            self.completed[item.file_id] = item
            self.files[item.file_id] = replace(self.files[item.file_id], state=FileState.DOWNLOADED)
        return {item.file_id for item in items}

    async def fail(
        self,
        file_id: int,
        owner: str,
        *,
        now: datetime,
        error_class: str,
        message: str,
        next_attempt_at: datetime | None,
        permanent: bool,
    ) -> FileState | None:
        self.failed[file_id] = error_class
        state = FileState.ABANDONED if permanent else FileState.FAILED
        self.files[file_id] = replace(self.files[file_id], state=state)
        return state

    async def record_attempts(self, attempt_records: Sequence[AttemptRecord]) -> None:
        self.attempts.extend(attempt_records)

    async def expected_totals(
        self, *, job_id: int | None = None, selection: Selection | None = None
    ) -> tuple[int, int | None]:
        return len(self.files), None

    async def next_attempt_due(
        self, *, job_id: int | None = None, selection: Selection | None = None
    ) -> datetime | None:
        return None

    async def segments(self, file_id: int) -> list[tuple[int, int]]:
        return sorted(self.segments_of.get(file_id, []))

    async def add_segments(self, file_id: int, ranges: Sequence[tuple[int, int]]) -> None:
        self.segments_of.setdefault(file_id, []).extend(ranges)

    async def reset_segments(self, file_id: int) -> None:
        self.segments_of.pop(file_id, None)

    async def set_validator(
        self,
        file_id: int,
        owner: str,
        *,
        validator: str | None,
        size: int | None,
        url: str | None = None,
    ) -> bool:
        return True


@dataclass
class MemoryBody:
    data: bytes
    partial: bool
    content_range: ContentRange | None
    info: RemoteInfo

    async def chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), 7 * KIB):
            yield self.data[start : start + 7 * KIB]


@dataclass
class MemoryTransport:
    """Files by URL, with ranges, a validator and nothing else."""

    blobs: dict[str, bytes]
    requests: list[tuple[str, ByteRange | None]] = field(default_factory=list)

    async def stat(self, url: str) -> RemoteInfo:
        return RemoteInfo(size=len(self.blobs[url]), validator='"v"')

    def open(
        self, url: str, byte_range: ByteRange | None = None, if_range: str | None = None
    ) -> AbstractAsyncContextManager[Body]:
        return self._open(url, byte_range)

    @asynccontextmanager
    async def _open(self, url: str, byte_range: ByteRange | None) -> AsyncIterator[Body]:
        self.requests.append((url, byte_range))
        blob = self.blobs.get(url)
        if blob is None:
            raise ClientError(f"HTTP 404 from {url}", status=404)
        info = RemoteInfo(size=len(blob), validator='"v"')
        if byte_range is None:
            yield MemoryBody(blob, False, None, info)
            return
        end = min(byte_range.end, len(blob))
        part = ContentRange(byte_range.start, end, len(blob))
        yield MemoryBody(blob[byte_range.start : end], True, part, info)

    async def close(self) -> None:
        return None


@dataclass
class MemoryTransports:
    transport: MemoryTransport

    def for_url(self, url: str) -> Transport:
        return self.transport

    async def close(self) -> None:
        return None


class MemorySink:
    """A sink in a bytearray; ``commit`` keeps the final bytes by name."""

    def __init__(self, name: str, store: dict[str, bytes]) -> None:
        self.name = name
        self.store = store
        self.data = bytearray()
        self.is_open = False

    def existing_size(self) -> int:
        return len(self.data)

    def open(self, *, truncate: bool) -> None:
        self.is_open = True
        if truncate:
            self.data = bytearray()

    def write_many_at(self, offset: int, buffers: Sequence[bytes]) -> None:
        blob = b"".join(buffers)
        if len(self.data) < offset + len(blob):
            self.data.extend(b"\0" * (offset + len(blob) - len(self.data)))
        self.data[offset : offset + len(blob)] = blob

    def read_at(self, offset: int, size: int) -> bytes:
        return bytes(self.data[offset : offset + size])

    def truncate(self, size: int) -> None:
        del self.data[size:]
        self.data.extend(b"\0" * (size - len(self.data)))

    def size(self) -> int:
        return len(self.data)

    def sync(self) -> None:
        return None

    def close(self) -> None:
        self.is_open = False

    def discard(self) -> None:
        self.data = bytearray()

    async def commit(self) -> None:
        self.store[self.name] = bytes(self.data)


@dataclass
class MemorySinks:
    store: dict[str, bytes] = field(default_factory=dict)

    def for_file(self, record: FileRecord) -> Sink:
        return MemorySink(record.path, self.store)


async def test_the_engine_runs_on_ports_of_the_tests_own() -> None:
    blobs = {f"mem://a/{i}": bytes([i]) * (i * 100 * KIB + 1) for i in range(1, 7)}
    records = {
        i: FileRecord(i, url, f"f{i}", "/nowhere", FileState.DISCOVERED)
        for i, url in enumerate(blobs, start=1)
    }
    catalog = MemoryCatalog(records)
    transport = MemoryTransport(blobs)
    sinks = MemorySinks()
    claims: Claims = catalog
    segment_map: SegmentMap = catalog
    transports: Transports = MemoryTransports(transport)
    as_sinks: Sinks = sinks
    engine = Engine(
        claims=claims,
        segment_map=segment_map,
        transports=transports,
        sinks=as_sinks,
        options=TransferOptions(segment_size=128 * KIB, max_per_host=4),
    )
    summary = await engine.run()
    assert summary.downloaded == 6
    for i, url in enumerate(blobs, start=1):
        assert sinks.store[f"f{i}"] == blobs[url]
        assert catalog.completed[i].sha256 == hashlib.sha256(blobs[url]).hexdigest()
    # Files larger than a segment went in ranges, through the transport given.
    assert any(r is not None and r.start > 0 for _, r in transport.requests)
    assert all(f.state is FileState.DOWNLOADED for f in catalog.files.values())


async def test_a_missing_file_is_abandoned_through_the_claims_port() -> None:
    records = {1: FileRecord(1, "mem://a/gone", "gone", "/nowhere", FileState.DISCOVERED)}
    catalog = MemoryCatalog(records)
    engine = Engine(
        claims=catalog,
        segment_map=catalog,
        transports=MemoryTransports(MemoryTransport({})),
        sinks=MemorySinks(),
        options=TransferOptions(),
    )
    summary = await engine.run()
    assert (summary.downloaded, summary.abandoned) == (0, 1)
    assert catalog.failed == {1: "client"}
    assert [a.outcome for a in catalog.attempts] == ["abandoned"]


# --- a row that still cannot be used at transfer time fails that file only ---------------------


class RefusingSinks(MemorySinks):
    """Sinks whose destination of ``refused`` fails as the OS fails a name too long."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused

    def for_file(self, record: FileRecord) -> Sink:
        if record.path == self.refused:
            raise OSError(errno.ENAMETOOLONG, "File name too long", record.path)
        return super().for_file(record)


async def test_a_row_the_engine_cannot_use_fails_that_file_not_the_run() -> None:
    good = b"x" * 1000
    records = {
        1: FileRecord(1, "mem://a/1", "f1", "/nowhere", FileState.DISCOVERED),
        # Rows registered before registration checked them (or by a path that does not):
        2: FileRecord(2, "mem://a/2", "f2", "/nowhere", FileState.DISCOVERED, checksum="sha256:zz"),
        3: FileRecord(3, "mem://a/3", "n" * 300, "/nowhere", FileState.DISCOVERED),
        4: FileRecord(4, "mem://a/4", "f4", "/nowhere", FileState.DISCOVERED),
    }
    catalog = MemoryCatalog(records)
    engine = Engine(
        claims=catalog,
        segment_map=catalog,
        transports=MemoryTransports(MemoryTransport({"mem://a/1": good, "mem://a/4": good})),
        sinks=RefusingSinks("n" * 300),
        options=TransferOptions(max_attempts=1),
    )
    summary = await engine.run()
    assert (summary.downloaded, summary.failed + summary.abandoned) == (2, 2)
    assert catalog.failed == {2: "client", 3: "disk"}
    by_id = {failure.file_id: failure.message for failure in summary.failures}
    assert by_id[2].startswith("invalid checksum 'sha256:zz'")
    assert "File name too long" in by_id[3]
    assert {f.state for f in catalog.files.values()} == {FileState.DOWNLOADED, FileState.ABANDONED}


# --- outcomes and their attempt rows go to the catalog together --------------------------------


class OneWriteCatalog(MemoryCatalog):
    """Counts the catalog writes of outcomes: a batch of completions and its attempt rows
    are one transaction (``complete_many(..., attempts=...)``), not two."""

    def __init__(self, files: dict[int, FileRecord]) -> None:
        super().__init__(files)
        self.writes: list[tuple[int, int]] = []

    async def complete_many(
        self,
        items: Sequence[Completion],
        owner: str,
        *,
        now: datetime,
        attempts: Sequence[AttemptRecord] = (),
    ) -> set[int]:
        self.writes.append((len(items), len(attempts)))
        return await super().complete_many(items, owner, now=now, attempts=attempts)

    async def record_attempts(self, attempt_records: Sequence[AttemptRecord]) -> None:
        self.writes.append((0, len(attempt_records)))
        await super().record_attempts(attempt_records)


async def test_completions_and_their_attempts_are_written_together() -> None:
    blobs = {f"mem://a/{i}": bytes([i]) * 100 for i in range(1, 11)}
    records = {
        i: FileRecord(i, url, f"f{i}", "/nowhere", FileState.DISCOVERED)
        for i, url in enumerate(blobs, start=1)
    }
    catalog = OneWriteCatalog(records)
    engine = Engine(
        claims=catalog,
        segment_map=catalog,
        transports=MemoryTransports(MemoryTransport(blobs)),
        sinks=MemorySinks(),
        options=TransferOptions(concurrency=4),
    )
    summary = await engine.run()
    assert summary.downloaded == len(blobs)
    assert sorted(a.file_id for a in catalog.attempts) == sorted(records)
    # Every write carried completions with their attempt rows: none wrote attempts alone.
    assert catalog.writes and all(done == logged for done, logged in catalog.writes)
