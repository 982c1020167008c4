"""FITS headers as the catalog keeps them: indexed values, bounded cards, JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from skyhaul.core.fitsheaders import (
    CARDS_LIMIT,
    HEADER_COLUMNS,
    FitsHeaders,
    HduHeader,
    column_for_key,
    decode_headers,
    encode_headers,
    header_values,
)
from skyhaul.core.metadata import MetadataKind


def hdu(index: int, *cards: tuple[str, object, str], name: str = "") -> HduHeader:
    return HduHeader(index, name or ("PRIMARY" if index == 0 else ""), tuple(cards))  # type: ignore[arg-type]


def test_the_columns_are_the_issues_common_keywords() -> None:
    keywords = [column.keyword for column in HEADER_COLUMNS]
    assert keywords == [
        *("TELESCOP", "INSTRUME", "DETECTOR", "FILTER", "TARGNAME"),
        *("RA_TARG", "DEC_TARG", "DATE-OBS", "EXPTIME"),
    ]
    assert column_for_key("date-obs") is column_for_key("DATE_OBS") is HEADER_COLUMNS[7]
    assert column_for_key(" instrume ").name == "instrume"  # type: ignore[union-attr]
    assert column_for_key("OBJECT") is None  # a fallback keyword is not a key


def test_values_come_from_the_primary_then_the_extension_with_fallbacks() -> None:
    primary = hdu(
        0,
        ("TELESCOP", "jwst ", ""),
        ("INSTRUME", "NIRCam", ""),
        ("TARG_RA", 151.75, ""),
        ("DATE-OBS", "2022-06-03", ""),
        ("TIME-OBS", "12:30:00.25", ""),
    )
    science = hdu(1, ("INSTRUME", "MIRI", ""), ("XPOSURE", 100, ""), ("OBJECT", "m 42", ""))
    values = header_values([primary, science])
    assert values == {
        "telescop": "JWST",
        "instrume": "NIRCAM",  # the primary's wins
        "detector": None,
        "filter": None,
        "targname": "M 42",  # OBJECT, when there is no TARGNAME
        "ra_targ": 151.75,  # TARG_RA, when there is no RA_TARG
        "dec_targ": None,
        "date_obs": datetime(2022, 6, 3, 12, 30, 0, 250000, tzinfo=UTC),
        "exptime": 100.0,  # XPOSURE of the science extension
    }


def test_a_value_that_does_not_read_is_none_and_the_next_keyword_is_tried() -> None:
    primary = hdu(
        0,
        ("RA_TARG", "not a number", ""),
        ("TARG_RA", 12, ""),
        ("DEC_TARG", float("nan"), ""),
        ("EXPTIME", True, ""),
        ("DATE-OBS", "03/06/22", ""),
        ("TELESCOP", "  ", ""),
    )
    values = header_values([primary])
    assert values["ra_targ"] == 12.0
    assert values["dec_targ"] is None
    assert values["exptime"] is None
    assert values["date_obs"] is None
    assert values["telescop"] is None


def test_a_full_date_obs_ignores_time_obs() -> None:
    primary = hdu(0, ("DATE-OBS", "2022-06-03T01:02:03", ""), ("TIME-OBS", "12:00:00", ""))
    assert header_values([primary])["date_obs"] == datetime(2022, 6, 3, 1, 2, 3, tzinfo=UTC)


def test_json_round_trips() -> None:
    headers = FitsHeaders(
        (
            hdu(0, ("SIMPLE", True, "conforms"), ("NAXIS", 0, ""), ("FOO", None, "undefined")),
            hdu(1, ("EXTNAME", "SCI", ""), ("BSCALE", 1.5, ""), name="SCI"),
        )
    )
    text = encode_headers(headers)
    assert json.loads(text)["hdus"][1]["name"] == "SCI"
    assert decode_headers(text) == headers


def test_non_finite_values_are_stored_as_text() -> None:
    headers = FitsHeaders((hdu(0, ("BAD", float("inf"), "")),))
    assert decode_headers(encode_headers(headers)).hdus[0].cards == (("BAD", "inf", ""),)


def test_headers_within_the_bound_are_kept_whole() -> None:
    headers = FitsHeaders((hdu(0, *[(f"K{i}", i, "c") for i in range(100)]),))
    assert headers.bounded() is headers


def test_commentary_goes_first_when_the_cards_do_not_fit() -> None:
    history = [("HISTORY", "x" * 70, "")] * 5000
    cards = [("SIMPLE", True, ""), *history, ("INSTRUME", "NIRCAM", "")]
    headers = FitsHeaders((hdu(0, *cards),)).bounded()
    assert headers.truncated
    assert headers.hdus[0].cards == (("SIMPLE", True, ""), ("INSTRUME", "NIRCAM", ""))


def test_then_cards_go_from_the_end_within_the_bound() -> None:
    cards = [(f"K{i}", "v" * 60, "comment") for i in range(10_000)]
    headers = FitsHeaders((hdu(0, *cards), hdu(1, ("EXTNAME", "SCI", ""))))
    bounded = headers.bounded(limit=CARDS_LIMIT)
    kept = bounded.hdus[0].cards
    assert bounded.truncated
    assert 0 < len(kept) < len(cards) and kept == tuple(cards[: len(kept)])
    assert len(encode_headers(bounded)) <= CARDS_LIMIT
    assert CARDS_LIMIT - len(encode_headers(bounded)) < 200  # nearly all of it is used


def test_column_kinds_are_text_float_or_time() -> None:
    kinds = {column.kind for column in HEADER_COLUMNS}
    assert kinds == {MetadataKind.TEXT, MetadataKind.FLOAT, MetadataKind.TIME}
