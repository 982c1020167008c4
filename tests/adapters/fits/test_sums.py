"""The FITS checksum convention, summed in pieces."""

from __future__ import annotations

import io
import random

import numpy as np
from astropy.io import fits

from skyhaul.adapters.fits.sums import NEGATIVE_ZERO, WordSum, add_sums, sum_of


def test_sums_in_pieces_of_any_length_equal_astropys() -> None:
    rng = random.Random(5)
    data = rng.randbytes(100_003)  # not a whole number of words: the tail is zero-padded
    words = WordSum()
    at = 0
    while at < len(data):
        step = rng.randint(1, 9000)
        words.add(data[at : at + step])
        at += step
    oracle = int(fits.PrimaryHDU()._compute_checksum(np.frombuffer(data, dtype="ubyte")))
    assert words.value == sum_of(data) == oracle


def test_end_around_carry() -> None:
    assert add_sums(0xFFFFFFFF, 1) == 1
    assert add_sums(0x80000000, 0x80000000) == 1
    assert sum_of(b"\xff\xff\xff\xff" * 3) == NEGATIVE_ZERO


def test_an_hdu_astropy_wrote_with_checksum_sums_to_negative_zero() -> None:
    out = io.BytesIO()
    fits.PrimaryHDU(np.arange(100, dtype=">i4")).writeto(out, checksum=True)
    assert sum_of(out.getvalue()) == NEGATIVE_ZERO
