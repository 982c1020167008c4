"""The chunk layout of a file streamed through a message broker.

Rules:
- A file is cut into chunks of ``chunk_size`` bytes (512 KiB by default, OpenMSIStream's
  size, under the 1 MiB a broker message holds); the last may be shorter; an empty file
  is one empty chunk, so that it arrives too (``plan_chunks``).
- Every message carries its chunk's metadata (:class:`ChunkMeta`) as text headers, one
  header per field; the fields and their codecs are declared once, in ``_FIELDS``, and
  both ``to_headers`` and ``from_headers`` are derived from that table.
- Headers are untrusted: ``from_headers`` raises ``ChunkFormatError`` naming the field for
  anything missing, unparsable or inconsistent (an index past the count, a chunk past the
  file's end, a path that would leave the destination), never a ``KeyError``.
- Hashes are SHA-512 in lower-case hex, per chunk and per file (as OpenMSIStream);
  ``check_chunk`` verifies a received payload against its header before anything is
  written, raising ``IntegrityError`` (the receiver refuses the chunk and it comes again).
- One file's chunks share one subject, ``{stream}.files.{token}``, where the token is the
  relative path in unpadded lower-case base32 (only ``a-z2-7``: no ``.``, ``*``, ``>`` or
  space can reach the subject), so one file's chunks can be replayed alone.
- The message id ``{token}:{generation}:{offset}`` names one chunk of one upload: the
  broker drops a second publish of it (a producer restarted mid-file sends again only
  what it may have lost, and a duplicate costs nothing).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

from skyhaul.core.paths import PART_SUFFIX, is_normal_path, reserved_component
from skyhaul.errors import ChunkFormatError, IntegrityError, UsageError

#: OpenMSIStream's chunk size: 512 KiB.
DEFAULT_CHUNK_SIZE = 524_288
#: The version of this layout, sent with every chunk so a later layout can be told apart.
LAYOUT_VERSION = "1"
#: The header that carries ``LAYOUT_VERSION``.
VERSION_HEADER = "Skyhaul-Chunk-Layout"
HASH_ALGORITHM = "sha512"
_HEX_DIGEST_LEN = hashlib.new(HASH_ALGORITHM).digest_size * 2
_HEX_RE = re.compile(rf"[0-9a-f]{{{_HEX_DIGEST_LEN}}}")
#: Stream and consumer group names: what NATS and Kafka both accept in a name.
_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TOKEN_RE = re.compile(r"[a-z2-7]+")


@dataclass(frozen=True, slots=True)
class ChunkMeta:
    """What a receiver must know of one chunk, besides its bytes.

    Parameters
    ----------
    path : str
        The file's path relative to the directory sent, with ``/`` separators.
    generation : int
        Which upload of that path this chunk belongs to (the producer counts them).
    file_hash : str
        SHA-512 of the whole file, lower-case hex.
    chunk_hash : str
        SHA-512 of this chunk's bytes, lower-case hex.
    offset : int
        Where the chunk's bytes start in the file.
    index : int
        The chunk's position, from 0.
    count : int
        How many chunks the file has (at least 1).
    size : int
        The whole file's size in bytes.
    mtime_ns : int
        The file's modification time when it was read, in nanoseconds since the epoch
        (the generation policy breaks ties of equal chunk counts with it).
    """

    path: str
    generation: int
    file_hash: str
    chunk_hash: str
    offset: int
    index: int
    count: int
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """Where one chunk lies in its file: ``length`` bytes from ``offset``."""

    index: int
    offset: int
    length: int


def _non_negative_int(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ValueError("not a non-negative integer")
    return int(text)


def _hex_digest(text: str) -> str:
    if not _HEX_RE.fullmatch(text):
        raise ValueError(f"not a lower-case hex {HASH_ALGORITHM} digest")
    return text


def _relative_path(text: str) -> str:
    path = unquote(text, errors="strict")
    if not is_normal_path(path):
        raise ValueError("not a normal relative path (empty, absolute, '..', '\\', '//')")
    if reserved_component(path) is not None:
        raise ValueError(f"names ending in {PART_SUFFIX!r} are reserved for part files")
    return path


def _quote_path(path: str) -> str:
    # Header values are one line of text: percent-encode everything but the plain.
    return quote(path, safe="/")


#: One row per field of ``ChunkMeta``: header name, how to write it, how to read it.
_FIELDS: dict[str, tuple[str, Callable[[object], str], Callable[[str], object]]] = {
    "path": ("Skyhaul-Path", lambda v: _quote_path(str(v)), _relative_path),
    "generation": ("Skyhaul-Generation", str, _non_negative_int),
    "file_hash": ("Skyhaul-File-Sha512", str, _hex_digest),
    "chunk_hash": ("Skyhaul-Chunk-Sha512", str, _hex_digest),
    "offset": ("Skyhaul-Offset", str, _non_negative_int),
    "index": ("Skyhaul-Index", str, _non_negative_int),
    "count": ("Skyhaul-Count", str, _non_negative_int),
    "size": ("Skyhaul-Size", str, _non_negative_int),
    "mtime_ns": ("Skyhaul-Mtime-Ns", str, _non_negative_int),
}

#: Whole-chunk checks once every field parsed: (what must hold, the field it blames).
_CONSISTENCY: tuple[tuple[Callable[[ChunkMeta], bool], str, str], ...] = (
    (lambda m: m.count >= 1, "count", "a file has at least one chunk"),
    (lambda m: m.index < m.count, "index", "index is not below count"),
    (lambda m: m.offset <= m.size, "offset", "offset is past the file's size"),
    (lambda m: m.count <= max(m.size, 1), "count", "more chunks than bytes"),
)


def to_headers(meta: ChunkMeta) -> dict[str, str]:
    """Return the message headers that carry ``meta`` (and the layout version).

    Parameters
    ----------
    meta : ChunkMeta
        The chunk's metadata.

    Returns
    -------
    dict of str to str
        Header name to value; every value is one line of ASCII text.
    """
    headers = {VERSION_HEADER: LAYOUT_VERSION}
    for name, (header, write, _read) in _FIELDS.items():
        headers[header] = write(getattr(meta, name))
    return headers


def from_headers(headers: Mapping[str, str]) -> ChunkMeta:
    """Read a chunk's metadata from a received message's headers.

    Parameters
    ----------
    headers : mapping of str to str
        The message's headers, as the broker delivered them.

    Returns
    -------
    ChunkMeta

    Raises
    ------
    ChunkFormatError
        When the layout version is not ours, or a field is missing, does not parse, or
        contradicts another; the message names the header.
    """
    version = headers.get(VERSION_HEADER)
    if version != LAYOUT_VERSION:
        raise ChunkFormatError(
            f"chunk header {VERSION_HEADER} is {version!r}, expected {LAYOUT_VERSION!r}"
        )
    values: dict[str, object] = {}
    for name, (header, _write, read) in _FIELDS.items():
        text = headers.get(header)
        if text is None:
            raise ChunkFormatError(f"chunk header {header} is missing")
        try:
            values[name] = read(text)
        except ValueError as exc:
            raise ChunkFormatError(f"chunk header {header} = {text!r}: {exc}") from None
    meta = ChunkMeta(**values)  # type: ignore[arg-type]
    for holds, name, why in _CONSISTENCY:
        if not holds(meta):
            raise ChunkFormatError(f"chunk header {_FIELDS[name][0]}: {why} ({meta.path})")
    return meta


def check_path(path: str) -> str:
    """Return ``path`` if a receiver will accept it as a chunk's relative path.

    A producer asks before sending, so that a file no receiver could place (a name
    ending in the part-file suffix, a backslash) is refused at its source.

    Raises
    ------
    ChunkFormatError
        When the path is not a normal relative path with ``/`` separators.
    """
    try:
        return _relative_path(_quote_path(path))
    except ValueError as exc:
        raise ChunkFormatError(f"cannot stream {path!r}: {exc}") from None


def digest(data: bytes) -> str:
    """Return the SHA-512 of ``data`` in lower-case hex (a chunk's or a file's hash)."""
    return hashlib.sha512(data).hexdigest()


def check_chunk(meta: ChunkMeta, data: bytes) -> None:
    """Verify a received chunk's bytes against its metadata before they are written.

    Raises
    ------
    IntegrityError
        When the bytes run past the file's end or their hash is not ``meta.chunk_hash``.
    """
    if meta.offset + len(data) > meta.size:
        raise IntegrityError(
            f"chunk {meta.index} of {meta.path} runs past the file's end "
            f"({meta.offset} + {len(data)} > {meta.size})"
        )
    if digest(data) != meta.chunk_hash:
        raise IntegrityError(f"chunk {meta.index} of {meta.path}: sha512 mismatch")


def plan_chunks(size: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> tuple[ChunkSpan, ...]:
    """Cut a file of ``size`` bytes into chunks of at most ``chunk_size`` bytes.

    Parameters
    ----------
    size : int
        The file's size in bytes.
    chunk_size : int
        The largest chunk, in bytes.

    Returns
    -------
    tuple of ChunkSpan
        In file order, covering every byte once; one empty chunk for an empty file.

    Raises
    ------
    UsageError
        When ``chunk_size`` is not positive or ``size`` is negative.
    """
    if chunk_size < 1:
        raise UsageError(f"chunk size must be at least 1 byte, not {chunk_size}")
    if size < 0:
        raise UsageError(f"a file size cannot be negative ({size})")
    if size == 0:
        return (ChunkSpan(0, 0, 0),)
    return tuple(
        ChunkSpan(index, offset, min(chunk_size, size - offset))
        for index, offset in enumerate(range(0, size, chunk_size))
    )


def check_name(kind: str, name: str) -> str:
    """Return ``name`` if it can name a stream or a consumer group on any broker.

    Raises
    ------
    UsageError
        When it holds anything but letters, digits, ``_`` and ``-``, or is empty or
        longer than 64 characters; ``kind`` says which name, for the message.
    """
    if not _NAME_RE.fullmatch(name):
        raise UsageError(f"invalid {kind} name {name!r}: use 1 to 64 letters, digits, '_' or '-'")
    return name


def file_token(path: str) -> str:
    """Return the subject-safe token of a relative path (unpadded lower-case base32)."""
    return base64.b32encode(path.encode()).decode().rstrip("=").lower()


def path_of_token(token: str) -> str:
    """Return the relative path a token was made from (the inverse of ``file_token``).

    Raises
    ------
    ChunkFormatError
        When ``token`` is not a token ``file_token`` makes.
    """
    if not _TOKEN_RE.fullmatch(token):
        raise ChunkFormatError(f"{token!r} is not a file token")
    padded = token.upper() + "=" * (-len(token) % 8)
    try:
        return base64.b32decode(padded).decode()
    except (ValueError, UnicodeDecodeError):
        raise ChunkFormatError(f"{token!r} is not a file token") from None


def stream_subjects(stream: str) -> str:
    """Return the subject filter a stream holds: every file's chunks, ``{stream}.files.>``."""
    return f"{check_name('stream', stream)}.files.>"


def file_subject(stream: str, path: str) -> str:
    """Return the subject of every chunk of the file at relative ``path``."""
    return f"{check_name('stream', stream)}.files.{file_token(path)}"


def message_id(meta: ChunkMeta) -> str:
    """Return the broker de-duplication id of a chunk: ``{token}:{generation}:{offset}``."""
    return f"{file_token(meta.path)}:{meta.generation}:{meta.offset}"
