"""Conditions on the indexed FITS header values (``ls --where``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from skyhaul.core.fitsheaders import column_for_key
from skyhaul.core.fitsquery import HeaderCondition, condition_for, parse_condition
from skyhaul.core.jobparams import selection_from_json, selection_to_json
from skyhaul.core.model import Selection


@pytest.mark.parametrize(
    ("text", "key", "op", "value"),
    [
        ("INSTRUME=NIRCAM", "INSTRUME", "=", "NIRCAM"),
        ("instrume = nircam ", "INSTRUME", "=", "NIRCAM"),
        ("TARGNAME!=ngc*", "TARGNAME", "!=", "NGC*"),
        ("EXPTIME>=100", "EXPTIME", ">=", 100.0),
        ("ra_targ<1e2", "RA_TARG", "<", 100.0),
        ("DEC_TARG>-40.5", "DEC_TARG", ">", -40.5),
        ("DATE-OBS<=2022-06-03", "DATE-OBS", "<=", date(2022, 6, 3)),
        ("date_obs>2022-06-03T12:00Z", "DATE-OBS", ">", datetime(2022, 6, 3, 12, tzinfo=UTC)),
        ("TARGNAME=A=B", "TARGNAME", "=", "A=B"),
    ],
)
def test_conditions_read_by_the_columns_kind(text: str, key: str, op: str, value: object) -> None:
    condition = parse_condition(text)
    assert condition == HeaderCondition(column_for_key(key), op, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("INSTRUME", "has no operator"),
        ("FOO=1", "unknown key 'FOO'"),
        ("=NIRCAM", "unknown key ''"),
        ("INSTRUME=", "no value after the operator"),
        ("EXPTIME>abc", "'abc' is not a number"),
        ("EXPTIME=nan", "'nan' is not a number"),
        ("DATE-OBS>noon", "is not an ISO 8601 date or time"),
        ("TARGNAME<NGC*", "works with = and != only"),
        ("INSTRUME!NIRCAM", "'!' must be followed by '='"),
    ],
)
def test_a_bad_condition_is_one_line_quoting_it(text: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_condition(text)
    message = str(caught.value)
    assert says in message and repr(text) in message and "\n" not in message


def test_values_given_as_python_values_are_taken_as_they_are() -> None:
    moment = datetime(2022, 6, 3, 12, tzinfo=UTC)
    assert condition_for("EXPTIME", "=", 12).value == 12.0
    assert condition_for("DATE-OBS", ">", moment).value == moment
    assert condition_for("DATE-OBS", "=", date(2022, 6, 3)).value == date(2022, 6, 3)
    with pytest.raises(ValueError, match="has no time zone"):
        condition_for("DATE-OBS", ">", datetime(2022, 6, 3))
    with pytest.raises(ValueError, match="takes a number"):
        condition_for("EXPTIME", "=", True)


@pytest.mark.parametrize(
    "text",
    [
        "INSTRUME=NIRCAM",
        "TARGNAME!=NGC*",
        "EXPTIME>=100.5",
        "DATE-OBS=2022-06-03",
        "DATE-OBS<2022-06-03T12:00:00.5+00:00",
        "RA_TARG<=1e+20",
    ],
)
def test_a_condition_reads_back_from_its_text(text: str) -> None:
    condition = parse_condition(text)
    assert parse_condition(str(condition)) == condition


def test_job_parameters_keep_header_conditions() -> None:
    selection = Selection(
        instrument="NIRCAM",
        headers=(parse_condition("TARGNAME=NGC*"), parse_condition("DATE-OBS>=2022-06-03")),
    )
    assert selection_from_json(selection_to_json(selection)) == selection
    assert "headers" not in selection_to_json(Selection())
