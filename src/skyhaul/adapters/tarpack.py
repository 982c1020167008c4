"""Tar packages streamed: written and read once, every member and the whole tar hashed.

Rules:
- ``write_tar`` reads each member's bytes once and hashes them as they pass: the member's
  sha256 and the tar's sha256 come from the same pass that writes the tar. Headers are
  POSIX pax (ustar, with a pax record only for what ustar cannot hold: long or non-ASCII
  names, sizes past 8 GiB) and deterministic: the member's mtime (whole seconds), mode
  0644, uid and gid 0, no user or group names. Member paths keep their directories; no
  directory entries are written (extracting makes them). The tar ends with two zero
  blocks, padded to a 10 KiB record as ``tar`` does.
- ``read_tar`` parses a tar from a stream of chunks and yields each member's path, size
  and sha256; ``scan_tar`` adds the whole tar's sha256 and size; ``unpack_tar`` writes each
  member to a location while hashing it and commits it only once it matches (when the
  expected checksums are given).
- Refused, never rewritten: member names that are absolute or hold ``..``
  (``PathEscapeError``), links and device entries (``PathEscapeError``), a member twice, a
  header whose checksum fails, a truncated tar, bytes other than zeros after its end
  (``IntegrityError``). A source that yields more or fewer bytes than its member's size
  (a file changed while packed) is an ``IntegrityError``.
- Memory is bounded: chunks pass through (headers and small pieces are gathered to
  ``chunk_size`` before a write); no member is ever held whole. Hashing a large piece runs
  in a worker thread (hashlib releases the GIL), so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import tarfile
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

from skyhaul.core.paths import safe_relative_path
from skyhaul.errors import IntegrityError, InvalidSpecError, PathEscapeError

if TYPE_CHECKING:
    from hashlib import _Hash

    from skyhaul.ports.locations import LocationStorage

__all__ = [
    "ChunkSink",
    "TarEntry",
    "TarMember",
    "TarResult",
    "read_tar",
    "scan_tar",
    "tar_size",
    "unpack_tar",
    "write_tar",
]

BLOCK = 512
#: ``tar``'s record: the archive's length is padded to a multiple of it.
RECORD = 20 * BLOCK
#: Bytes gathered before a write (headers, small pieces).
CHUNK_SIZE = 1 << 20
#: Pieces at least this long are hashed in a worker thread.
_THREAD_HASH = 256 << 10
#: A pax or GNU long-name header larger than this is refused (names are short).
_MAX_META = 1 << 20
_ZERO_BLOCK = bytes(BLOCK)
_FILE_TYPES = frozenset({tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE})
_LINK_TYPES = frozenset({tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.GNUTYPE_LONGLINK})


@dataclass(frozen=True, slots=True)
class TarMember:
    """One file to pack.

    Parameters
    ----------
    name : str
        Its path inside the tar (relative, ``/``-separated, already clean).
    size : int
        Its size in bytes; the source must yield exactly this many.
    mtime : float
        Its modification time (seconds since the epoch; stored in whole seconds).
    read : callable
        Opens the source: returns an async iterator of its bytes in chunks (for example
        ``functools.partial(storage.open_read, path)``). Called once.
    """

    name: str
    size: int
    mtime: float
    read: Callable[[], AsyncIterator[bytes]]


class TarEntry(NamedTuple):
    """A member as written or read: its path in the tar, size and sha256 (hex)."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class TarResult:
    """A whole tar: its sha256 (hex) and size, and its members in order."""

    sha256: str
    size: int
    members: tuple[TarEntry, ...]


class ChunkSink(Protocol):
    """Where ``write_tar`` writes (a :class:`skyhaul.ports.locations.LocationWriter`)."""

    async def write(self, chunk: bytes) -> None:
        """Append ``chunk``."""


def _padding(size: int) -> int:
    return -size % BLOCK


def _clean_name(name: str) -> str:
    """``name`` as a clean relative path, or ``PathEscapeError`` naming the member."""
    try:
        return safe_relative_path(name).as_posix()
    except PathEscapeError as exc:
        raise PathEscapeError(f"tar member {name!r} refused: {exc}") from None


def _header(member: TarMember) -> bytes:
    if _clean_name(member.name) != member.name:
        raise PathEscapeError(f"tar member {member.name!r} is not a clean relative path")
    info = tarfile.TarInfo(member.name)
    info.size = member.size
    info.mtime = int(member.mtime)
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def tar_size(members: Sequence[TarMember]) -> int:
    """Return the size of the tar ``write_tar`` makes of ``members`` (to reserve space)."""
    body = sum(len(_header(m)) + m.size + _padding(m.size) for m in members) + 2 * BLOCK
    return body + (-body % RECORD)


async def _hash(hashes: Sequence[_Hash], data: bytes) -> None:
    if len(data) < _THREAD_HASH:
        for h in hashes:
            h.update(data)
    else:
        await asyncio.to_thread(_update_all, hashes, data)


def _update_all(hashes: Sequence[_Hash], data: bytes) -> None:
    for h in hashes:
        h.update(data)


class _Out:
    """The tar's bytes on their way to the sink: gathered, hashed, counted."""

    def __init__(self, sink: ChunkSink, chunk_size: int) -> None:
        self._sink = sink
        self._chunk_size = chunk_size
        self._pending = bytearray()
        self.hash = hashlib.sha256()
        self.size = 0

    async def put(self, data: bytes) -> None:
        if len(data) >= self._chunk_size:  # large pieces go straight through
            await self.flush()
            await self._write(data)
            return
        self._pending += data
        if len(self._pending) >= self._chunk_size:
            await self.flush()

    async def flush(self) -> None:
        if self._pending:
            data, self._pending = bytes(self._pending), bytearray()
            await self._write(data)

    async def finish(self) -> None:
        """Write the two zero blocks that end a tar, padded to a whole record."""
        end = 2 * BLOCK
        await self.put(bytes(end + (-(self.size + len(self._pending) + end) % RECORD)))
        await self.flush()

    async def _write(self, data: bytes) -> None:
        await _hash((self.hash,), data)
        await self._sink.write(data)
        self.size += len(data)


async def write_tar(
    members: Sequence[TarMember], out: ChunkSink, *, chunk_size: int = CHUNK_SIZE
) -> TarResult:
    """Write ``members`` as a tar to ``out``, hashing each member and the tar in one pass.

    Parameters
    ----------
    members : sequence of TarMember
        The files, in the order to pack them.
    out : ChunkSink
        Where the tar goes (a location writer; the caller commits it).
    chunk_size : int, optional
        Bytes gathered before a write.

    Returns
    -------
    TarResult
        The tar's sha256 and size, and each member's sha256.

    Raises
    ------
    PathEscapeError
        A member name is absolute, holds ``..`` or is not clean.
    InvalidSpecError
        Two members have one name.
    IntegrityError
        A source yielded more or fewer bytes than its member's size.
    """
    sink = _Out(out, chunk_size)
    entries: list[TarEntry] = []
    seen: set[str] = set()
    for member in members:
        if member.name in seen:
            raise InvalidSpecError(f"tar member {member.name!r} given twice")
        seen.add(member.name)
        await sink.put(_header(member))
        digest = hashlib.sha256()
        count = 0
        async for chunk in member.read():
            count += len(chunk)
            if count > member.size:
                raise IntegrityError(
                    f"{member.name} grew while packed: more than {member.size} bytes"
                )
            await _hash((digest,), chunk)
            await sink.put(chunk)
        if count != member.size:
            raise IntegrityError(f"{member.name} shrank while packed: {count} of {member.size}")
        await sink.put(bytes(_padding(member.size)))
        entries.append(TarEntry(member.name, member.size, digest.hexdigest()))
    await sink.finish()
    return TarResult(sink.hash.hexdigest(), sink.size, tuple(entries))


class _Source:
    """Exact byte counts from a stream of chunks, the whole stream hashed as it arrives."""

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self._chunks = aiter(chunks)
        self._chunk = b""
        self._at = 0
        self.hash = hashlib.sha256()
        self.size = 0  # bytes received (and hashed)
        self.offset = 0  # bytes consumed

    async def _fill(self) -> bool:
        while self._at >= len(self._chunk):
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                return False
            await _hash((self.hash,), chunk)
            self.size += len(chunk)
            self._chunk, self._at = chunk, 0
        return True

    async def pieces(self, count: int) -> AsyncIterator[bytes]:
        """Yield the next ``count`` bytes in pieces (whole chunks uncopied)."""
        while count:
            if not await self._fill():
                raise IntegrityError(f"tar truncated at byte {self.offset}")
            take = min(count, len(self._chunk) - self._at)
            if self._at == 0 and take == len(self._chunk):
                piece = self._chunk
            else:
                piece = self._chunk[self._at : self._at + take]
            self._at += take
            self.offset += take
            count -= take
            yield piece

    async def exact(self, count: int) -> bytes:
        return b"".join([piece async for piece in self.pieces(count)])

    async def rest_is_zeros(self) -> bool:
        while await self._fill():
            piece = self._chunk[self._at :]
            self._at = len(self._chunk)
            self.offset += len(piece)
            if piece.count(0) != len(piece):
                return False
        return True


class _Member(NamedTuple):
    path: str
    size: int
    data: AsyncIterator[bytes]


def _pax_records(data: bytes) -> dict[str, str]:
    """Parse pax records (``"%d %s=%s\\n"``); a malformed one is an ``IntegrityError``."""
    records: dict[str, str] = {}
    at = 0
    while at < len(data) and data[at] != 0:
        space = data.find(b" ", at)
        try:
            length = int(data[at:space])
        except ValueError:
            raise IntegrityError("malformed pax header in tar") from None
        record = data[space + 1 : at + length]
        if length <= 0 or not record.endswith(b"\n") or b"=" not in record:
            raise IntegrityError("malformed pax header in tar")
        key, _, value = record[:-1].partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        at += length
    return records


async def _members(source: _Source) -> AsyncIterator[_Member]:
    """Parse ``source`` and yield each file member; its data must be read before the next."""
    pax: dict[str, str] = {}
    long_name: str | None = None
    seen: set[str] = set()
    while True:
        at = source.offset
        block = await source.exact(BLOCK)
        if block == _ZERO_BLOCK:
            if await source.exact(BLOCK) != _ZERO_BLOCK or not await source.rest_is_zeros():
                raise IntegrityError(f"bytes after the end of the tar at byte {at}")
            return
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise IntegrityError(f"bad tar header at byte {at}: {exc}") from None
        if info.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME):
            if info.size > _MAX_META:
                raise IntegrityError(f"tar header at byte {at} is too large ({info.size})")
            data = (await source.exact(info.size + _padding(info.size)))[: info.size]
            if info.type == tarfile.XHDTYPE:
                pax = _pax_records(data)
            elif info.type == tarfile.GNUTYPE_LONGNAME:
                long_name = data.rstrip(b"\0").decode("utf-8", "surrogateescape")
            continue  # global pax records carry nothing a member's path or size needs
        name = pax.get("path") or long_name or info.name
        size = int(pax["size"]) if "size" in pax else info.size
        pax, long_name = {}, None
        if info.type in _LINK_TYPES:
            raise PathEscapeError(f"tar member {name!r} is a link; refusing it")
        if info.type == tarfile.DIRTYPE:
            if name.strip("/") not in ("", "."):  # "./" is the top of ``tar -C dir -c .``
                _clean_name(name)
            await source.exact(size + _padding(size))
            continue
        path = _clean_name(name)
        if info.type not in _FILE_TYPES:
            raise PathEscapeError(f"tar member {name!r} is not a regular file; refusing it")
        if path in seen:
            raise IntegrityError(f"tar member {path!r} appears twice")
        seen.add(path)
        data_pieces = source.pieces(size)
        yield _Member(path, size, data_pieces)
        async for _ in data_pieces:  # whatever the consumer left unread
            pass
        await source.exact(_padding(size))


async def _read(source: _Source) -> AsyncIterator[TarEntry]:
    async for member in _members(source):
        digest = hashlib.sha256()
        async for piece in member.data:
            await _hash((digest,), piece)
        yield TarEntry(member.path, member.size, digest.hexdigest())


async def read_tar(chunks: AsyncIterable[bytes]) -> AsyncIterator[TarEntry]:
    """Yield each file member of the tar in ``chunks``: path, size, sha256.

    Directory entries are passed over; pax and GNU long names are followed.

    Raises
    ------
    PathEscapeError
        A member name escapes (absolute, ``..``), or a member is a link or a device.
    IntegrityError
        A header's checksum fails, the tar is truncated, a member appears twice, or
        bytes other than zeros follow its end.
    """
    async for entry in _read(_Source(chunks)):
        yield entry


async def scan_tar(chunks: AsyncIterable[bytes]) -> TarResult:
    """Read the whole tar in ``chunks`` as :func:`read_tar` does; return its sha256 too."""
    source = _Source(chunks)
    entries = tuple([entry async for entry in _read(source)])
    return TarResult(source.hash.hexdigest(), source.size, entries)


async def unpack_tar(
    chunks: AsyncIterable[bytes],
    into: LocationStorage,
    prefix: str = "",
    *,
    expected: Mapping[str, str] | None = None,
) -> TarResult:
    """Write each member of the tar in ``chunks`` to ``into`` under ``prefix``, hashing it.

    Parameters
    ----------
    chunks : async iterable of bytes
        The tar.
    into : LocationStorage
        Where the members go (``prefix/path``; each committed when whole).
    prefix : str, optional
        A directory of ``into`` to unpack under (``""``: its root).
    expected : mapping of str to str, optional
        Member path to sha256 (hex). When given, a member that is not listed, or whose
        bytes do not match, is aborted (never committed) and raises ``IntegrityError``,
        as does a listed member the tar lacks.

    Returns
    -------
    TarResult
        The tar's sha256 and size, and each member's.

    Raises
    ------
    PathEscapeError, IntegrityError
        As :func:`read_tar`, and for a mismatch with ``expected``.
    """
    source = _Source(chunks)
    base = safe_relative_path(prefix).as_posix() + "/" if prefix.strip("/") else ""
    entries: list[TarEntry] = []
    async for member in _members(source):
        if expected is not None and member.path not in expected:
            raise IntegrityError(f"tar member {member.path!r} is not one of the package's")
        writer = await into.writer(base + member.path)
        try:
            digest = hashlib.sha256()
            async for piece in member.data:
                await _hash((digest,), piece)
                await writer.write(piece)
            sha256 = digest.hexdigest()
            if expected is not None and expected[member.path] != sha256:
                raise IntegrityError(
                    f"tar member {member.path!r}: sha256 {sha256} is not the expected "
                    f"{expected[member.path]}"
                )
            await writer.commit()
        except BaseException:
            await writer.abort()
            raise
        entries.append(TarEntry(member.path, member.size, sha256))
    if expected is not None:
        missing = sorted(set(expected) - {entry.path for entry in entries})
        if missing:
            raise IntegrityError(f"tar lacks {len(missing)} member(s), first {missing[0]!r}")
    return TarResult(source.hash.hexdigest(), source.size, tuple(entries))
