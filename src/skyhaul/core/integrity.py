"""Checksums: parsing, streaming hashers and comparison.

Rules:
- A checksum is written ``algorithm:hex`` (``sha256:ab12...``); algorithms are lower case
  and hex is normalised to lower case, so two equal checksums compare equal as values.
- Every download computes sha256 (stored in the catalog for every file) and, when the
  expected checksum uses another algorithm, that one too, in the same pass over the bytes.
- Only the standard library: hashlib, and zlib for adler32 (the checksum of dCache and
  XRootD archives).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

SUPPORTED_ALGORITHMS = ("sha256", "sha1", "md5", "adler32")

_HEX_LENGTHS = {"sha256": 64, "sha1": 40, "md5": 32, "adler32": 8}
_ALIASES = {"sha-256": "sha256", "sha-1": "sha1", "adler-32": "adler32"}
_HEX_DIGITS = frozenset("0123456789abcdef")
_NORMAL = re.compile(
    "(?:" + "|".join(f"{name}:[0-9a-f]{{{n}}}" for name, n in _HEX_LENGTHS.items()) + r")\Z"
)

# RFC 9530 hash algorithm keys -> our names (preference follows SUPPORTED_ALGORITHMS).
_DIGEST_KEYS = {"sha-256": "sha256", "sha": "sha1", "md5": "md5", "adler": "adler32"}


@dataclass(frozen=True, slots=True)
class Checksum:
    """An expected or computed checksum.

    Parameters
    ----------
    algorithm : str
        One of ``SUPPORTED_ALGORITHMS``.
    hexdigest : str
        Lower-case hex digest of the right length for the algorithm.
    """

    algorithm: str
    hexdigest: str

    def __post_init__(self) -> None:
        if self.algorithm not in _HEX_LENGTHS:
            raise ValueError(
                f"unsupported checksum algorithm {self.algorithm!r}"
                f" (supported: {', '.join(SUPPORTED_ALGORITHMS)})"
            )
        expected = _HEX_LENGTHS[self.algorithm]
        if len(self.hexdigest) != expected or not _HEX_DIGITS.issuperset(self.hexdigest):
            raise ValueError(
                f"invalid {self.algorithm} checksum {self.hexdigest!r}:"
                f" expected {expected} lower-case hex digits"
            )

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hexdigest}"


def parse_checksum(text: str) -> Checksum:
    """Parse ``algorithm:hex`` (for example ``sha256:ab12...``) into a ``Checksum``.

    The algorithm name and the hex digits are case-insensitive; ``sha-256`` and
    ``sha-1`` are accepted as spellings of ``sha256`` and ``sha1``.

    Raises
    ------
    ValueError
        When the text has no ``:``, names an unsupported algorithm, or the hex digest
        has the wrong length or a non-hex character. The message quotes the input.
    """
    algorithm, colon, digest = text.strip().partition(":")
    if not colon:
        raise ValueError(f"invalid checksum {text!r}: expected 'algorithm:hex', e.g. 'sha256:...'")
    algorithm = algorithm.strip().lower()
    algorithm = _ALIASES.get(algorithm, algorithm)
    if algorithm not in _HEX_LENGTHS:
        raise ValueError(
            f"invalid checksum {text!r}: unsupported algorithm {algorithm!r}"
            f" (supported: {', '.join(SUPPORTED_ALGORITHMS)})"
        )
    digest = digest.strip().lower()
    expected = _HEX_LENGTHS[algorithm]
    if len(digest) != expected or not _HEX_DIGITS.issuperset(digest):
        raise ValueError(
            f"invalid checksum {text!r}: {algorithm} needs {expected} hex digits,"
            f" got {len(digest)} characters"
            + ("" if _HEX_DIGITS.issuperset(digest) else " with non-hex characters")
        )
    return Checksum(algorithm, digest)


def is_normal_checksum(text: str) -> bool:
    """Tell whether ``text`` is a checksum written as ``str(parse_checksum(text))`` writes it.

    Cheaper than parsing, for the millions of rows of a manifest; anything else may still
    parse (upper case, ``sha-256``): ask :func:`parse_checksum`.
    """
    return _NORMAL.match(text) is not None


class Hasher(Protocol):
    """A streaming hash: what ``hashlib`` objects and our adler32 have in common."""

    def update(self, data: bytes | memoryview, /) -> None:
        """Feed more bytes."""

    def hexdigest(self) -> str:
        """Return the digest of all bytes so far as lower-case hex (does not reset)."""


class _Adler32:
    """adler32 with the hashlib interface (8 lower-case hex digits, zero padded)."""

    __slots__ = ("_value",)

    def __init__(self) -> None:
        self._value = 1

    def update(self, data: bytes | memoryview, /) -> None:
        self._value = zlib.adler32(data, self._value)

    def hexdigest(self) -> str:
        return f"{self._value:08x}"


def new_hasher(algorithm: str) -> Hasher:
    """Return a fresh streaming hasher for one of ``SUPPORTED_ALGORITHMS``.

    Raises
    ------
    ValueError
        For any other algorithm.
    """
    if algorithm == "adler32":
        return _Adler32()
    if algorithm in _HEX_LENGTHS:
        return hashlib.new(algorithm, usedforsecurity=False)  # checksums, not security
    raise ValueError(
        f"unsupported checksum algorithm {algorithm!r}"
        f" (supported: {', '.join(SUPPORTED_ALGORITHMS)})"
    )


class MultiHasher:
    """Hash a stream once with sha256 and, optionally, one more algorithm.

    Parameters
    ----------
    extra : str or None
        The algorithm of the expected checksum, when there is one; ignored when it is
        ``sha256``.
    """

    __slots__ = ("_hashers",)

    def __init__(self, extra: str | None = None) -> None:
        self._hashers: dict[str, Hasher] = {"sha256": new_hasher("sha256")}
        if extra is not None and extra != "sha256":
            self._hashers[extra] = new_hasher(extra)

    def update(self, data: bytes | memoryview) -> None:
        """Feed the next bytes of the stream to every hasher."""
        for hasher in self._hashers.values():
            hasher.update(data)

    def digests(self) -> dict[str, str]:
        """Return ``{algorithm: hexdigest}`` of the bytes so far (sha256 always present)."""
        return {name: hasher.hexdigest() for name, hasher in self._hashers.items()}


def matches(expected: Checksum, digests: Mapping[str, str]) -> bool:
    """Tell whether the computed ``digests`` agree with ``expected``.

    Raises
    ------
    ValueError
        When ``digests`` has no digest for the expected algorithm: that is a bug in the
        caller (the hasher was built without it), not a mismatch of the file.
    """
    try:
        actual = digests[expected.algorithm]
    except KeyError:
        raise ValueError(f"no {expected.algorithm} digest was computed") from None
    return actual.lower() == expected.hexdigest


def parse_repr_digest(header: str) -> Checksum | None:
    """Read the best supported checksum from a ``Repr-Digest`` or ``Content-Digest`` header.

    Parameters
    ----------
    header : str
        An RFC 9530 dictionary such as ``sha-256=:<base64>:, sha-512=:<base64>:``. The
        older RFC 3230 ``Digest`` form (``SHA-256=<base64>``) is read too.

    Returns
    -------
    Checksum or None
        sha256, else sha1 (``sha``), else md5, else adler32 (``adler``), with the base64
        value converted to hex; ``None`` when no member has a supported algorithm and a
        valid value. Malformed members are skipped, never raised.
    """
    found: dict[str, str] = {}
    for member in header.split(","):
        key, eq, value = member.partition("=")
        algorithm = _DIGEST_KEYS.get(key.strip().lower())
        if not eq or algorithm is None:
            continue
        value = value.split(";", 1)[0].strip()
        if len(value) >= 2 and value[0] == value[-1] == ":":
            value = value[1:-1]
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(raw) * 2 == _HEX_LENGTHS[algorithm]:
            found.setdefault(algorithm, raw.hex())
    for algorithm in SUPPORTED_ALGORITHMS:
        if algorithm in found:
            return Checksum(algorithm, found[algorithm])
    return None
