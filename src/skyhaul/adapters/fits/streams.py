"""A file's verified bytes as a stream, for the FITS walk: plain, or gzip-compressed.

Rules:
- Bytes are read through ``Readable.read_at`` (the sink's open descriptor) in pieces of
  at most ``PIECE`` bytes: memory stays bounded whatever the file's size.
- A plain stream skips by moving its position (nothing is read); a gzip stream skips by
  decompressing and dropping what it skips.
- A stream that ends early gives fewer bytes; the walk decides what that means.
- Errors of the gzip layer (bad or cut-short compressed data) become ``IntegrityError``;
  a failed read stays the sink's ``DiskError``.
"""

from __future__ import annotations

import gzip
import io
import zlib
from typing import Protocol

from skyhaul.errors import IntegrityError
from skyhaul.ports.content import Readable

__all__ = ["PIECE", "ByteStream", "GzipStream", "PlainStream", "read_exactly"]

#: Most bytes read (or decompressed) at once.
PIECE = 8 << 20


class ByteStream(Protocol):
    """Content read in order."""

    @property
    def position(self) -> int:
        """Bytes of content consumed so far."""

    def read(self, size: int) -> bytes:
        """Read ``size`` bytes (fewer only at the end)."""

    def skip(self, size: int) -> int:
        """Skip ``size`` bytes; return how many there were (fewer only at the end)."""


def read_exactly(content: Readable, offset: int, size: int) -> bytes:
    """Read ``size`` bytes at ``offset`` (fewer only at the end of ``content``)."""
    first = content.read_at(offset, size)
    if len(first) == size or not first:
        return first
    pieces = [first]
    got = len(first)
    while got < size:
        more = content.read_at(offset + got, size - got)
        if not more:
            break
        pieces.append(more)
        got += len(more)
    return b"".join(pieces)


class PlainStream:
    """``size`` bytes of ``content`` from offset 0."""

    def __init__(self, content: Readable, size: int) -> None:
        self._content = content
        self._size = size
        self._position = 0

    @property
    def position(self) -> int:
        """Bytes consumed so far."""
        return self._position

    def read(self, size: int) -> bytes:
        """Read ``size`` bytes (fewer at the end)."""
        wanted = max(0, min(size, self._size - self._position))
        data = read_exactly(self._content, self._position, wanted) if wanted else b""
        self._position += len(data)
        return data

    def skip(self, size: int) -> int:
        """Move past ``size`` bytes without reading them."""
        skipped = max(0, min(size, self._size - self._position))
        self._position += skipped
        return skipped


class _Raw(io.RawIOBase):
    """``content`` as a raw file object (what ``gzip`` reads from)."""

    def __init__(self, content: Readable, size: int) -> None:
        self._content = content
        self._size = size
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self._size - self._at, PIECE)
        if wanted <= 0:
            return 0
        data = self._content.read_at(self._at, wanted)
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)


class GzipStream:
    """The decompressed content of gzip-compressed ``content`` (``.fits.gz``)."""

    def __init__(self, content: Readable, size: int) -> None:
        raw = io.BufferedReader(_Raw(content, size), buffer_size=1 << 20)
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")
        self._position = 0

    @property
    def position(self) -> int:
        """Decompressed bytes consumed so far."""
        return self._position

    def read(self, size: int) -> bytes:
        """Decompress ``size`` bytes (fewer at the end)."""
        pieces: list[bytes] = []
        got = 0
        while got < size:
            try:
                piece = self._gzip.read(min(size - got, PIECE))
            except (OSError, EOFError, zlib.error) as exc:
                raise IntegrityError(
                    f"the gzip stream is corrupt or cut short after {self._position + got} "
                    f"bytes: {exc}"
                ) from None
            if not piece:
                break
            pieces.append(piece)
            got += len(piece)
        self._position += got
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def skip(self, size: int) -> int:
        """Decompress and drop ``size`` bytes."""
        skipped = 0
        while skipped < size:
            piece = self.read(min(size - skipped, PIECE))
            if not piece:
                break
            skipped += len(piece)
        return skipped
