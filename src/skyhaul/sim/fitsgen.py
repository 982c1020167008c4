"""FITS headers with valid ``CHECKSUM`` and ``DATASUM`` cards, without astropy.

Rules:
- Cards are written in the FITS fixed format (keyword in columns 1-8, ``= `` in 9-10,
  strings quoted from column 11, numbers and logicals right-aligned to column 30), the
  form astropy writes, so astropy re-reads them byte for byte. Floats are written as
  astropy writes them (``str(value)`` with an upper-case ``E``).
- :func:`hdu_header` makes the header of any HDU (primary or extension): the caller
  gives the cards that say which it is (``SIMPLE`` or ``XTENSION`` first).
- Checksums follow the FITS checksum convention (FITS standard 4.0, appendix J): the
  32-bit ones' complement sum of big-endian words. ``DATASUM`` is the data's sum as a
  decimal string; ``CHECKSUM`` is the 16-character ASCII encoding chosen so that the
  sum of the whole HDU (header and data) is negative zero.
- Sums are computed with numpy over whole words; callers pass data whose length is a
  multiple of four (FITS blocks always are) and may sum it in pieces with
  :func:`add_sums`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from skyhaul.sim.archive import FITS_BLOCK

CardValue = str | int | float | bool
Card = tuple[str, CardValue, str]
"""A header card: keyword, value, comment."""

_CARD = 80
_PLACEHOLDER = "0" * 16
# Characters the checksum encoding must avoid (punctuation between digits and letters).
_EXCLUDE = frozenset(b":;<=>?@[\\]^_`")


def format_card(keyword: str, value: CardValue, comment: str = "") -> bytes:
    """Format one 80-byte header card in the FITS fixed format.

    Parameters
    ----------
    keyword : str
        Up to 8 characters: upper-case letters, digits, ``-`` and ``_``.
    value : str, int, float or bool
        The card's value (a float must be finite).
    comment : str, optional
        Comment after `` / ``; cut to fit the card.

    Returns
    -------
    bytes
        The 80-byte card image.
    """
    if len(keyword) > 8:
        raise ValueError(f"FITS keyword longer than 8 characters: {keyword!r}")
    if isinstance(value, bool):
        text = f"{'T' if value else 'F':>20}"
    elif isinstance(value, int):
        text = f"{value:>20d}"
    elif isinstance(value, float):
        text = f"{_float_text(value):>20}"
    else:
        quoted = "'" + f"{value.replace(chr(39), chr(39) * 2):<8}" + "'"
        text = f"{quoted:<20}"
    card = f"{keyword:<8}= {text}"
    if comment:
        card += f" / {comment}"
    if len(card) > _CARD:
        card = card[:_CARD]
    return card.ljust(_CARD).encode("ascii")


def _float_text(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"FITS card values must be finite, got {value!r}")
    text = str(value).replace("e", "E")
    if len(text) > 20:  # astropy cuts the significand, keeping the exponent
        at = text.find("E")
        text = text[:20] if at < 0 else text[: 20 - (len(text) - at)] + text[at:]
    return text


def add_sums(a: int, b: int) -> int:
    """Add two 32-bit ones' complement sums (end-around carry)."""
    total = a + b
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


def ones_complement_sum(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """Return the 32-bit ones' complement sum of ``data`` read as big-endian words.

    Parameters
    ----------
    data : bytes-like or numpy.ndarray
        Data whose length in bytes is a multiple of 4.

    Returns
    -------
    int
        The sum, between 0 and 2**32 - 1.
    """
    words = np.frombuffer(data, dtype=">u4")
    # A uint64 accumulator cannot overflow below 2**32 words (16 GiB) per call.
    return add_sums(0, int(words.sum(dtype=np.uint64)))


def encode_checksum(value: int) -> str:
    """Encode a 32-bit value as the 16 ASCII characters of a ``CHECKSUM`` card.

    Parameters
    ----------
    value : int
        The complement of the HDU's ones' complement sum.

    Returns
    -------
    str
        16 characters from ``0-9``, ``A-Z`` and ``a-z`` whose words sum to ``value``
        plus the sum of a ``'0000000000000000'`` placeholder.
    """
    chars = [0] * 16
    for i in range(4):
        byte = (value >> (24 - 8 * i)) & 0xFF
        quotient, remainder = byte // 4 + ord("0"), byte % 4
        group = [quotient + remainder, quotient, quotient, quotient]
        changed = True
        while changed:  # shift pairs off excluded characters, keeping their sum
            changed = False
            for j in (0, 2):
                if group[j] in _EXCLUDE or group[j + 1] in _EXCLUDE:
                    group[j] += 1
                    group[j + 1] -= 1
                    changed = True
        for j in range(4):
            chars[4 * j + i] = group[j]
    rotated = chars[15:] + chars[:15]  # the convention rotates the string right by one
    return bytes(rotated).decode("ascii")


def hdu_header(cards: Sequence[Card], datasum: int) -> bytes:
    """Return an HDU's header with ``CHECKSUM`` and ``DATASUM`` cards, padded to blocks.

    Parameters
    ----------
    cards : sequence of Card
        The header's cards, starting with ``SIMPLE`` (a primary HDU) or ``XTENSION`` (an
        extension) and the mandatory keywords; without ``CHECKSUM``, ``DATASUM`` or
        ``END``.
    datasum : int
        The data unit's ones' complement sum (:func:`ones_complement_sum`; 0 for an HDU
        without data). The ``CHECKSUM`` makes the HDU sum to negative zero with it, so a
        wrong ``datasum`` fails both checks, as a damaged data unit does.

    Returns
    -------
    bytes
        The header, a whole number of 2880-byte blocks.
    """
    images = [format_card(*card) for card in cards]
    images.append(format_card("CHECKSUM", _PLACEHOLDER, "HDU checksum"))
    images.append(format_card("DATASUM", str(datasum), "data unit checksum"))
    images.append(b"END".ljust(_CARD))
    header = b"".join(images)
    header += b" " * (-len(header) % FITS_BLOCK)
    total = add_sums(ones_complement_sum(header), datasum)
    checksum = encode_checksum(~total & 0xFFFFFFFF)
    at = len(cards) * _CARD + 11  # the CHECKSUM card's value, inside its quotes
    return header[:at] + checksum.encode("ascii") + header[at + 16 :]


def primary_header(cards: Sequence[Card], datasum: int) -> bytes:
    """Return a primary header with ``CHECKSUM`` and ``DATASUM``; see :func:`hdu_header`."""
    return hdu_header(cards, datasum)
