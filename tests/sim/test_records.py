"""The records generator: windows, counts, order, determinism, gaps and bad days."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from skyhaul.sim.records import (
    RecordsQuery,
    RecordsQueryError,
    expected_records,
    iter_json_pieces,
    records_json,
    sensor_ids,
    truncated_json,
)
from skyhaul.sim.records_config import RecordsConfig

DAY = datetime(2024, 1, 1, tzinfo=UTC)
DEFAULT = RecordsConfig()


def _window(start: timedelta, end: timedelta, sensor: int | None = None) -> RecordsQuery:
    return RecordsQuery(DAY + start, DAY + end, sensor)


def _records(config: RecordsConfig, query: RecordsQuery) -> list[dict[str, object]]:
    body, count = records_json(config, query)
    records = json.loads(body)
    assert isinstance(records, list) and len(records) == count
    return records


def _key(record: dict[str, object]) -> tuple[str, int, int]:
    sensor_number = int(str(record["idSensor"]).rpartition("-")[2])
    return str(record["obTime"]), sensor_number, int(str(record["dosimeter"]))


def test_sensor_ids() -> None:
    assert sensor_ids(3) == ("REACH-150", "REACH-151", "REACH-152")
    assert "REACH-171" in sensor_ids(DEFAULT.sensors)


def test_counts_for_all_and_for_one_sensor() -> None:
    five_minutes = _window(timedelta(0), timedelta(minutes=5))
    assert len(_records(DEFAULT, five_minutes)) == 32 * 2 * 60 == 3840
    one = _window(timedelta(0), timedelta(minutes=5), sensor=21)
    records = _records(DEFAULT, one)
    assert len(records) == 2 * 60
    assert {r["idSensor"] for r in records} == {"REACH-171"}
    assert expected_records(DEFAULT, five_minutes) == 3840


def test_the_window_is_half_open_and_aligned_to_the_epoch() -> None:
    first = _records(DEFAULT, _window(timedelta(0), timedelta(seconds=5)))
    assert {r["obTime"] for r in first} == {"2024-01-01T00:00:00.000000Z"}
    assert _records(DEFAULT, _window(timedelta(microseconds=1), timedelta(seconds=5))) == []
    assert records_json(DEFAULT, _window(timedelta(0), timedelta(0))) == ("[]", 0)
    seven = RecordsConfig(sensors=1, cadence=7.0)
    for record in _records(seven, _window(timedelta(0), timedelta(minutes=2))):
        moment = datetime.fromisoformat(str(record["obTime"]))
        assert moment.timestamp() % 7 == 0


def test_order_is_time_then_sensor_then_dosimeter() -> None:
    config = RecordsConfig(sensors=12)  # REACH-150..161, so 2- and 3-digit suffixes sort alike
    records = _records(config, _window(timedelta(0), timedelta(minutes=1)))
    keys = [_key(r) for r in records]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert records[0]["idSensor"] == "REACH-150" and records[0]["dosimeter"] == 1
    assert records[1]["idSensor"] == "REACH-150" and records[1]["dosimeter"] == 2


def test_values_are_a_function_of_sensor_dosimeter_and_time() -> None:
    whole = _window(timedelta(hours=3), timedelta(hours=3, minutes=10))
    assert records_json(DEFAULT, whole) == records_json(DEFAULT, whole)  # byte-identical
    everything = _records(DEFAULT, whole)
    halves = _records(
        DEFAULT, _window(timedelta(hours=3), timedelta(hours=3, minutes=4))
    ) + _records(DEFAULT, _window(timedelta(hours=3, minutes=4), timedelta(hours=3, minutes=10)))
    assert halves == everything
    one = _records(DEFAULT, RecordsQuery(whole.start, whole.end, sensor=21))
    assert one == [r for r in everything if r["idSensor"] == "REACH-171"]


def test_values_are_plausible() -> None:
    records = _records(DEFAULT, _window(timedelta(0), timedelta(minutes=30)))
    for record in records:
        assert record["descriptor"] == "QUICKLOOK"
        assert -90 <= float(str(record["lat"])) <= 90
        assert -180 <= float(str(record["lon"])) < 180
        assert 775 <= float(str(record["alt"])) <= 785
        assert float(str(record["dose1"])) > 0 and float(str(record["dose2"])) > 0
    assert len({r["dose1"] for r in records}) > len(records) // 2


def test_gaps_are_a_deterministic_fraction_of_the_samples() -> None:
    hour = _window(timedelta(0), timedelta(hours=1))
    full = _records(DEFAULT, hour)
    gappy = RecordsConfig(gap=0.1)
    kept = _records(gappy, hour)
    assert 0.88 * len(full) <= len(kept) <= 0.92 * len(full)
    assert records_json(gappy, hour) == records_json(gappy, hour)
    full_by_key = {_key(r): r for r in full}
    assert all(full_by_key[_key(r)] == r for r in kept)  # the survivors are unchanged
    assert records_json(RecordsConfig(gap=1.0), hour) == ("[]", 0)


def test_no_data_days_have_no_records() -> None:
    config = RecordsConfig(sensors=1, no_data_days=(date(2024, 1, 1),))
    across_midnight = _window(timedelta(hours=23, minutes=59), timedelta(days=1, minutes=1))
    records = _records(config, across_midnight)
    assert len(records) == 2 * 12
    assert all(str(r["obTime"]).startswith("2024-01-02") for r in records)
    assert _records(config, _window(timedelta(hours=5), timedelta(hours=6))) == []


def test_pieces_join_into_the_whole_body() -> None:
    hour = _window(timedelta(0), timedelta(hours=1))
    pieces = list(iter_json_pieces(DEFAULT, hour, chunk=1000))
    assert len(pieces) > 5
    assert ("".join(t for t, _ in pieces), sum(n for _, n in pieces)) == records_json(DEFAULT, hour)
    nothing = RecordsConfig(gap=1.0)
    assert list(iter_json_pieces(nothing, hour, chunk=1000)) == [("[]", 0)]


@pytest.mark.parametrize("minutes", [0, 1, 120])
def test_truncated_bodies_never_parse(minutes: int) -> None:
    body = truncated_json(DEFAULT, _window(timedelta(0), timedelta(minutes=minutes)))
    assert body.startswith("[")
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


@pytest.mark.parametrize(
    "window",
    [
        "2024-01-01T00:00:00.000000Z..2024-01-01T00:05:00.000000Z",
        "2024-01-01T00:00:00Z..2024-01-01T00:05:00Z",
        "2024-01-01T00:00:00+00:00..2024-01-01T00:05:00+00:00",
        "2024-01-01T00:00:00 00:00..2024-01-01T00:05:00 00:00",  # "+" unescaped in a URL
        "2024-01-01T01:00:00+01:00..2024-01-01T00:05:00",
    ],
)
def test_query_time_forms(window: str) -> None:
    query = RecordsQuery.from_query({"obTime": window}, DEFAULT)
    assert query == RecordsQuery(DAY, DAY + timedelta(minutes=5), None)


def test_query_sensor_and_descriptor() -> None:
    window = "2024-01-01T00:00:00Z..2024-01-02T00:00:00Z"  # exactly one day is allowed
    query = RecordsQuery.from_query(
        {"obTime": window, "sensor": "reach-171", "descriptor": "QUICKLOOK"}, DEFAULT
    )
    assert query.sensor == 21 and query.days() == [date(2024, 1, 1)]
    assert RecordsQuery.from_query({"obTime": window, "sensor": "ALL"}, DEFAULT).sensor is None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "obTime: required"),
        ({"obTime": "2024-01-01T00:00:00Z"}, "expected START..END"),
        ({"obTime": "yesterday..today"}, "not an ISO 8601 time"),
        ({"obTime": "2024-01-02T00:00:00Z..2024-01-01T00:00:00Z"}, "end is before the start"),
        ({"obTime": "2024-01-01T00:00:00Z..2024-01-02T00:00:01Z"}, "longer than one day"),
        ({"obTime": "2024-01-01T00:00:00Z..2024-01-01T00:01:00Z", "sensor": "REACH-182"}, "sensor"),
        ({"obTime": "2024-01-01T00:00:00Z..2024-01-01T00:01:00Z", "sensor": "X-1"}, "sensor"),
        ({"obTime": "2024-01-01T00:00:00Z..2024-01-01T00:01:00Z", "descriptor": "L2"}, "QUICKLOOK"),
    ],
)
def test_bad_queries(query: dict[str, str], message: str) -> None:
    with pytest.raises(RecordsQueryError, match=message):
        RecordsQuery.from_query(query, DEFAULT)


def test_days_of_a_window() -> None:
    assert _window(timedelta(hours=23), timedelta(days=1, hours=1)).days() == [
        date(2024, 1, 1),
        date(2024, 1, 2),
    ]
    assert _window(timedelta(hours=1), timedelta(days=1)).days() == [date(2024, 1, 1)]
    assert _window(timedelta(hours=1), timedelta(hours=1)).days() == []
