"""Send a directory's files through a chunk transport, each chunk hashed and acknowledged.

Rules:
- A file is read twice. The first read hashes it whole and per chunk (SHA-512), since
  every chunk announces the whole file's hash; the second publishes its chunks, each
  hashed again as it is read, so a chunk whose bytes changed in between is never sent:
  that file is reported ``changed`` instead (it is being written; a watcher sends it
  again once it has settled), and what was already sent of it is left to the
  receiver's generation policy.
- A file counts as sent once the broker has acknowledged every one of its chunks (it
  holds them durably); a chunk the broker already had (same message id, within its
  duplicate window) counts as a duplicate, not an error.
- At most ``files_in_flight`` files and ``chunks_in_flight`` chunks per file are being
  published at once, so memory stays under their product times the chunk size.
- Reading and hashing run in worker threads; the event loop only publishes.
- Paths are relative to the directory sent, with ``/``; a path no receiver would take
  (``core.streamchunks.check_path``) is refused before anything of it is sent. Part
  files (``*.skyhaul.part``) and symbolic links are never sent.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from skyhaul.core.paths import reserved_component
from skyhaul.core.streamchunks import (
    DEFAULT_CHUNK_SIZE,
    ChunkMeta,
    ChunkSpan,
    check_path,
    digest,
    file_token,
    message_id,
    plan_chunks,
    to_headers,
)
from skyhaul.errors import UsageError
from skyhaul.ports.chunks import ChunkTransport

#: Room kept in a broker message for the headers (a long path, percent-encoded).
HEADER_ALLOWANCE = 16 * 1024


@dataclass(frozen=True, slots=True)
class SendOptions:
    """How a directory is sent.

    Parameters
    ----------
    chunk_size : int
        The largest chunk, in bytes (512 KiB by default).
    include : str or None
        A glob the relative path must match (``*`` crosses ``/``), or None for all.
    generation : int
        The generation every file is sent as (the upload registry will count them).
    files_in_flight, chunks_in_flight : int
        How many files, and chunks of each, are published at once.
    """

    chunk_size: int = DEFAULT_CHUNK_SIZE
    include: str | None = None
    generation: int = 1
    files_in_flight: int = 4
    chunks_in_flight: int = 8


@dataclass(frozen=True, slots=True)
class FileSent:
    """What sending one file did.

    Parameters
    ----------
    path : str
        Its relative path.
    size : int
        Its size when it was hashed.
    chunks : int
        Chunks the broker acknowledged.
    duplicates : int
        Of those, chunks the broker already held.
    changed : bool
        The file changed while it was sent; not every chunk was published.
    generation : int
        The generation it was sent as.
    """

    path: str
    size: int
    chunks: int
    duplicates: int
    changed: bool
    generation: int


@dataclass(slots=True)
class SendReport:
    """What sending a directory did, file by file."""

    files: list[FileSent] = field(default_factory=list)

    @property
    def chunks(self) -> int:
        """Chunks the broker acknowledged, duplicates included."""
        return sum(f.chunks for f in self.files)

    @property
    def duplicates(self) -> int:
        """Chunks the broker already held."""
        return sum(f.duplicates for f in self.files)

    @property
    def changed(self) -> list[str]:
        """Files that changed while they were sent."""
        return [f.path for f in self.files if f.changed]


@dataclass(frozen=True, slots=True)
class _Hashed:
    """A file's first read: its identity and every chunk's hash."""

    size: int
    mtime_ns: int
    file_hash: str
    chunk_hashes: tuple[str, ...]
    plan: tuple[ChunkSpan, ...]


class _Changed(Exception):
    """The file's bytes are not those that were hashed."""


def check_chunk_size(transport: ChunkTransport, chunk_size: int) -> None:
    """Refuse a chunk size whose messages (with their headers) the broker would refuse.

    Raises
    ------
    UsageError
        When ``chunk_size`` plus ``HEADER_ALLOWANCE`` exceeds the broker's message limit.
    """
    limit = transport.max_message_bytes - HEADER_ALLOWANCE
    if chunk_size > limit:
        raise UsageError(
            f"chunk size {chunk_size} does not fit in the broker's messages "
            f"(at most {limit} bytes with headers)"
        )


def list_files(root: Path, include: str | None = None) -> list[str]:
    """Return the relative paths of the plain files under ``root`` to send, sorted.

    Raises
    ------
    UsageError
        When ``root`` is not a directory.
    """
    if not root.is_dir():
        raise UsageError(f"not a directory: {root}")
    found = []
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            relative = path.relative_to(root).as_posix()
            if path.is_symlink() or not path.is_file() or reserved_component(relative):
                continue
            if include is None or fnmatch.fnmatchcase(relative, include):
                found.append(relative)
    return sorted(found)


def _hash_file(path: Path, chunk_size: int) -> _Hashed:
    before = path.stat()
    plan = plan_chunks(before.st_size, chunk_size)
    whole = hashlib.sha512()
    hashes = []
    with path.open("rb") as handle:
        for span in plan:
            data = handle.read(span.length)
            if len(data) != span.length:
                raise _Changed
            whole.update(data)
            hashes.append(digest(data))
        if handle.read(1):
            raise _Changed
    after = path.stat()
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise _Changed
    return _Hashed(before.st_size, before.st_mtime_ns, whole.hexdigest(), tuple(hashes), plan)


def _read_chunk(fd: int, span: ChunkSpan, expected: str) -> bytes:
    data = os.pread(fd, span.length, span.offset)
    if len(data) != span.length or digest(data) != expected:
        raise _Changed
    return data


async def send_file(
    transport: ChunkTransport, root: Path, relative: str, options: SendOptions
) -> FileSent:
    """Publish every chunk of one file and wait for the broker to hold them all.

    Parameters
    ----------
    transport : ChunkTransport
        Where to publish.
    root : Path
        The directory sent.
    relative : str
        The file's path under ``root``, with ``/``.
    options : SendOptions
        Chunk size, generation and how many chunks to publish at once.

    Returns
    -------
    FileSent

    Raises
    ------
    ChunkFormatError
        When no receiver would accept the path.
    BrokerError
        When the broker does not acknowledge a chunk.
    """
    check_path(relative)
    path = root / relative
    try:
        hashed = await asyncio.to_thread(_hash_file, path, options.chunk_size)
    except (_Changed, FileNotFoundError):
        return FileSent(relative, 0, 0, 0, True, options.generation)
    slots = asyncio.Semaphore(options.chunks_in_flight)
    receipts: list[bool] = []
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return FileSent(relative, hashed.size, 0, 0, True, options.generation)

    async def publish(span: ChunkSpan) -> None:
        try:
            expected = hashed.chunk_hashes[span.index]
            data = await asyncio.to_thread(_read_chunk, fd, span, expected)
            meta = ChunkMeta(
                path=relative,
                generation=options.generation,
                file_hash=hashed.file_hash,
                chunk_hash=expected,
                offset=span.offset,
                index=span.index,
                count=len(hashed.plan),
                size=hashed.size,
                mtime_ns=hashed.mtime_ns,
            )
            receipt = await transport.publish(
                file_token(relative), to_headers(meta), data, message_id(meta)
            )
            receipts.append(receipt.duplicate)
        finally:
            slots.release()

    changed = False
    try:
        async with asyncio.TaskGroup() as group:
            for span in hashed.plan:
                await slots.acquire()
                group.create_task(publish(span))
    except* _Changed:
        changed = True
    finally:
        os.close(fd)
    return FileSent(
        relative, hashed.size, len(receipts), sum(receipts), changed, options.generation
    )


async def send_directory(
    transport: ChunkTransport, root: Path, options: SendOptions | None = None
) -> SendReport:
    """Send every file under ``root`` (matching ``options.include``) once.

    Returns once the broker holds every chunk of every file that did not change meanwhile.

    Raises
    ------
    UsageError
        When ``root`` is not a directory, or a chunk (with its headers) would not fit in
        one broker message.
    ChunkFormatError
        When a file's path is one no receiver would accept (before anything is sent).
    BrokerError
        When the broker does not acknowledge a chunk.
    """
    options = options or SendOptions()
    check_chunk_size(transport, options.chunk_size)
    await transport.ensure_stream()
    paths = await asyncio.to_thread(list_files, root, options.include)
    for relative in paths:
        check_path(relative)
    report = SendReport()
    slots = asyncio.Semaphore(options.files_in_flight)

    async def one(relative: str) -> FileSent:
        async with slots:
            return await send_file(transport, root, relative, options)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(relative)) for relative in paths]
    report.files.extend(task.result() for task in tasks)
    return report
