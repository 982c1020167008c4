from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from astropy.io import fits

from skyhaul.sim.fitsgen import (
    Card,
    encode_checksum,
    format_card,
    hdu_header,
    ones_complement_sum,
    primary_header,
)


def test_cards_are_80_bytes_in_fixed_format() -> None:
    assert format_card("SIMPLE", True, "x") == b"SIMPLE  =                    T / x".ljust(80)
    assert format_card("NAXIS", 2)[:30] == b"NAXIS   =                    2"
    assert format_card("ORIGIN", "it's")[:22] == b"ORIGIN  = 'it''s   '  "
    with pytest.raises(ValueError, match="longer than 8"):
        format_card("TOOLONGKEY", 1)


def test_ones_complement_sum_wraps_the_carry() -> None:
    words = np.array([0xFFFFFFFF, 0x00000002], dtype=">u4").tobytes()
    assert ones_complement_sum(words) == 2  # 0x1_00000001 folds to 2


@pytest.mark.parametrize(
    ("value", "text"),
    [  # as astropy encodes them
        (0x868A52A0, "XSTFXQRDXQRDXQRD"),
        (0x12345678, "N6AGN49EN4AEN49E"),
        (0, "0000000000000000"),
        (0xFFFFFFFF, "orrrrooooooooooo"),
    ],
)
def test_checksum_encoding(value: int, text: str) -> None:
    assert encode_checksum(value) == text


@pytest.mark.parametrize("rows", [1, 7])
def test_astropy_verifies_checksum_and_datasum(rows: int) -> None:
    rng = np.random.default_rng(rows)
    data = rng.integers(-(2**15), 2**15, (rows, 1440), dtype=np.int16).astype(">i2")
    raw = data.tobytes()
    cards: list[Card] = [
        ("SIMPLE", True, "conforms to FITS standard"),
        ("BITPIX", 16, ""),
        ("NAXIS", 2, ""),
        ("NAXIS1", 1440, ""),
        ("NAXIS2", rows, ""),
        ("OBJECT", "Sun", ""),
    ]
    header = primary_header(cards, ones_complement_sum(raw))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fits.open(io.BytesIO(header + raw), checksum=True) as hdus:
            hdu = hdus[0]
            assert hdu.verify_checksum() == 1
            assert hdu.verify_datasum() == 1
            np.testing.assert_array_equal(hdu.data, data)


def test_floats_are_written_as_astropy_writes_them() -> None:
    assert format_card("RA_TARG", 24.173946)[:30] == b"RA_TARG =            24.173946"
    assert format_card("EXPTIME", 1500.0)[:30] == b"EXPTIME =               1500.0"
    assert format_card("TINY", 1e-20)[:30] == b"TINY    =                1E-20"
    assert format_card("NEG", -80.469138)[:30] == b"NEG     =           -80.469138"


def test_astropy_verifies_an_extension_header_with_floats() -> None:
    data = np.arange(1440 * 2, dtype=">i2").tobytes()
    primary = hdu_header(
        [
            ("SIMPLE", True, ""),
            ("BITPIX", 8, ""),
            ("NAXIS", 0, ""),
            ("EXTEND", True, ""),
            ("RA_TARG", 217.326708, "[deg]"),
            ("EXPTIME", 8123.5, "[s]"),
        ],
        0,
    )
    extension = hdu_header(
        [
            ("XTENSION", "IMAGE", ""),
            ("BITPIX", 16, ""),
            ("NAXIS", 2, ""),
            ("NAXIS1", 1440, ""),
            ("NAXIS2", 2, ""),
            ("PCOUNT", 0, ""),
            ("GCOUNT", 1, ""),
            ("EXTNAME", "SCI", ""),
        ],
        ones_complement_sum(data),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fits.open(io.BytesIO(primary + extension + data), checksum=True) as hdus:
            assert [hdu.verify_checksum() for hdu in hdus] == [1, 1]
            assert hdus[0].header["RA_TARG"] == 217.326708
            assert hdus["SCI"].data.shape == (2, 1440)
