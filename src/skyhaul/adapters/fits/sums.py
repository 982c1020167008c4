"""The FITS checksum convention: 32-bit ones' complement sums of big-endian words.

Rules:
- As the FITS standard (4.0, appendix J) defines them: ``DATASUM`` is the sum of the
  data unit, a decimal string; ``CHECKSUM`` makes the sum of the whole HDU, header and
  data, negative zero (all ones). Verification is that sum, not a re-encoding of it:
  any valid encoding of the complement passes.
- Sums are taken with numpy in pieces (a uint64 accumulator, folded with end-around
  carry), so any size is summed in bounded memory. A piece need not be a whole number
  of words: its tail waits for the next one; the last is padded with zeros, as the
  data unit's fill is.
- numpy is imported at the first sum, never with the module (the command line starts
  without it).
"""

from __future__ import annotations

__all__ = ["NEGATIVE_ZERO", "WordSum", "add_sums", "sum_of"]

#: The sum of an HDU whose CHECKSUM holds.
NEGATIVE_ZERO = 0xFFFFFFFF


def add_sums(a: int, b: int) -> int:
    """Add two 32-bit ones' complement sums (end-around carry)."""
    total = a + b
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


class WordSum:
    """The ones' complement sum of bytes given in pieces."""

    __slots__ = ("_tail", "_total")

    def __init__(self) -> None:
        self._total = 0
        self._tail = b""

    def add(self, data: bytes) -> None:
        """Add ``data`` (any length) after the bytes added before."""
        if self._tail:
            data = self._tail + data
        whole = len(data) - len(data) % 4
        self._tail = data[whole:]
        if whole:
            import numpy as np

            # A uint64 accumulator holds 2**32 words (16 GiB) without overflow; pieces
            # are far smaller, and each is folded into a Python int.
            words = np.frombuffer(data, dtype=">u4", count=whole // 4)
            self._total += int(words.sum(dtype=np.uint64))

    @property
    def value(self) -> int:
        """The sum so far (a partial last word padded with zeros)."""
        total = self._total
        if self._tail:
            total += int.from_bytes(self._tail.ljust(4, b"\0"), "big")
        return add_sums(0, total)


def sum_of(data: bytes) -> int:
    """The ones' complement sum of ``data``."""
    words = WordSum()
    words.add(data)
    return words.value
