from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skyhaul.sim._range import UNSATISFIABLE, ByteSpan, if_range_matches, parse_range


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes=0-99", ByteSpan(0, 100)),
        ("bytes=100-", ByteSpan(100, 1000)),
        ("bytes=-100", ByteSpan(900, 1000)),
        ("bytes=-5000", ByteSpan(0, 1000)),
        ("bytes=990-5000", ByteSpan(990, 1000)),
        (" Bytes = 5 - 9 ", ByteSpan(5, 10)),
        ("bytes=1000-", UNSATISFIABLE),
        ("bytes=1000-1010", UNSATISFIABLE),
        ("bytes=-0", UNSATISFIABLE),
        ("bytes=9-5", None),
        ("bytes=0-1,5-9", None),
        ("items=0-5", None),
        ("bytes=-", None),
        ("nonsense", None),
    ],
)
def test_parse_range(value: str, expected: ByteSpan | None) -> None:
    assert parse_range(value, 1000) == expected


def test_empty_body_satisfies_nothing() -> None:
    assert parse_range("bytes=-10", 0) is UNSATISFIABLE
    assert parse_range("bytes=0-", 0) is UNSATISFIABLE


def test_if_range() -> None:
    moment = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert if_range_matches('"abc"', '"abc"', moment)
    assert not if_range_matches('"abd"', '"abc"', moment)
    assert not if_range_matches('W/"abc"', '"abc"', moment)
    assert if_range_matches("Fri, 01 Mar 2024 12:00:00 GMT", '"abc"', moment)
    assert not if_range_matches("Fri, 01 Mar 2024 12:00:01 GMT", '"abc"', moment)
    assert not if_range_matches("not a date", '"abc"', moment)
