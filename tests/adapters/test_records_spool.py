"""Chunk answers are checked and filtered, and chunks spool to real files in any order."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from skyhaul.adapters.records_spool import ChunkSpool, ValueKind, parse_chunk
from skyhaul.errors import DiskError, PayloadError

WINDOW = (datetime(2024, 1, 1, 0, 5, tzinfo=UTC), datetime(2024, 1, 1, 0, 10, tzinfo=UTC))
WHERE = "REACH 2024-01-01T00:05Z..00:10Z"


def parse(answer: Any) -> list[dict[str, Any]]:
    body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    return parse_chunk(body, time_field="obTime", window=WINDOW, where=WHERE)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>502 Bad Gateway</html>", "the answer is not JSON"),
        (b'[{"obTime": "2024-01-01T00:06:00Z"}', "the answer is not JSON"),
        (b"\xff\xfe[]", "the answer is not JSON"),
        (b'{"error": "busy"}', "the answer is a JSON object, not an array of records"),
        (b"null", "the answer is a JSON null, not an array of records"),
        (b'[{"obTime": "2024-01-01T00:06:00Z"}, 3]', "record 1 is a JSON number, not an object"),
        (b'[["2024-01-01T00:06:00Z"]]', "record 0 is a JSON array, not an object"),
        (b'[{"idSensor": "REACH-171"}]', "record 0 has no obTime"),
        (b'[{"obTime": null}]', "record 0 has obTime None, not an ISO 8601 time"),
        (b'[{"obTime": 1704067560}]', "record 0 has obTime 1704067560, not an ISO 8601 time"),
        (b'[{"obTime": "yesterday"}]', "record 0 has obTime 'yesterday', not an ISO 8601 time"),
    ],
)
def test_malformed_answers_are_payload_errors_naming_the_place(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(body)
    text = str(caught.value)
    assert text.startswith(f"{WHERE}: ")
    assert message in text
    assert "\n" not in text
    assert "no data" not in text


def test_empty_array_is_no_records() -> None:
    assert parse([]) == []


def test_time_spellings_are_accepted_as_utc() -> None:
    records = parse(
        [
            {"obTime": "2024-01-01T00:06:00.123456Z", "n": 1},
            {"obTime": "2024-01-01T00:06:00+00:00", "n": 2},
            {"obTime": "2024-01-01T00:06:00.5", "n": 3},  # naive: UTC
            {"obTime": "2024-01-01T01:06:30+01:00", "n": 4},  # 00:06:30 UTC
        ]
    )
    assert [r["n"] for r in records] == [2, 1, 3, 4]
    assert records[1]["obTime"] == "2024-01-01T00:06:00.123456Z"  # the text is kept


def test_records_outside_the_half_open_window_are_dropped_and_the_rest_sorted() -> None:
    records = parse(
        [
            {"obTime": "2024-01-01T00:10:00Z", "n": "end boundary: next chunk's"},
            {"obTime": "2024-01-01T00:07:00Z", "n": "b1"},
            {"obTime": "2024-01-01T00:05:00Z", "n": "start boundary: ours"},
            {"obTime": "2024-01-01T00:04:59.999999Z", "n": "before"},
            {"obTime": "2024-01-01T00:06:00Z", "n": "a"},
            {"obTime": "2024-01-01T00:07:00Z", "n": "b2"},
        ]
    )
    assert [r["n"] for r in records] == ["start boundary: ours", "a", "b1", "b2"]


def test_a_bad_record_outside_the_window_still_fails_the_chunk() -> None:
    with pytest.raises(PayloadError, match="record 1 has no obTime"):
        parse([{"obTime": "2024-01-01T00:06:00Z"}, {"time": "2024-01-01T00:20:00Z"}])


def test_spool_round_trip_with_out_of_order_writes(tmp_path: Path) -> None:
    spool = ChunkSpool(tmp_path / "spool" / "2024-01-01")
    chunks = {
        2: [{"t": "c", "v": 3}],
        0: [{"t": "a", "v": 1, "nested": {"x": [1, 2]}}, {"t": "a2", "u": "é"}],
        1: [],
    }
    for index, records in chunks.items():
        spool.write(index, records)
    for index, records in chunks.items():
        assert list(spool.records(index)) == records
    assert spool.count == 3
    names = sorted(p.name for p in spool.directory.iterdir())
    assert names == ["chunk-00000.jsonl", "chunk-00001.jsonl", "chunk-00002.jsonl"]


def test_writing_a_chunk_again_replaces_it(tmp_path: Path) -> None:
    spool = ChunkSpool(tmp_path / "day")
    spool.write(0, [{"v": 1}, {"v": 2}])
    spool.write(0, [{"v": 9}])
    assert list(spool.records(0)) == [{"v": 9}]
    assert spool.count == 1


def test_survey_gives_first_seen_columns_and_their_kinds(tmp_path: Path) -> None:
    spool = ChunkSpool(tmp_path / "day")
    spool.write(1, [{"t": "x", "late": True, "i": 2.5}])
    spool.write(0, [{"t": "x", "i": 1, "n": None}, {"t": "y", "big": 2**70, "o": [1]}])
    survey = spool.survey(2)
    assert survey.records == 3
    assert list(survey.columns) == ["t", "i", "n", "big", "o", "late"]
    assert survey.columns["t"] == ValueKind.STR
    assert survey.columns["i"] == ValueKind.INT | ValueKind.FLOAT
    assert survey.columns["n"] == ValueKind(0)
    assert survey.columns["big"] == ValueKind.BIG_INT
    assert survey.columns["o"] == ValueKind.NESTED
    assert survey.columns["late"] == ValueKind.BOOL


def test_survey_of_a_chunk_never_written_is_a_disk_error(tmp_path: Path) -> None:
    spool = ChunkSpool(tmp_path / "day")
    spool.write(0, [])
    with pytest.raises(DiskError, match="has no chunk 1"):
        spool.survey(2)
    with pytest.raises(DiskError, match="has no chunk 1"):
        list(spool.records(1))


def test_a_chunk_file_gone_is_a_disk_error_naming_it(tmp_path: Path) -> None:
    spool = ChunkSpool(tmp_path / "day")
    spool.write(0, [{"v": 1}])
    spool.chunk_path(0).unlink()
    with pytest.raises(DiskError, match=r"chunk-00000\.jsonl is missing"):
        list(spool.records(0))


def test_clear_removes_chunks_of_this_and_earlier_runs_and_the_directory(tmp_path: Path) -> None:
    directory = tmp_path / "day"
    directory.mkdir()
    (directory / "chunk-00007.jsonl").write_text('{"old": 1}\n')
    (directory / ".chunk-00003.jsonl.tmp").write_text("partial")
    spool = ChunkSpool(directory)
    spool.write(0, [{"v": 1}])
    spool.clear()
    assert not directory.exists()
    assert spool.count == 0
    spool.clear()  # nothing left: still fine
    spool.write(0, [{"v": 2}])  # writes again after a clear
    assert list(spool.records(0)) == [{"v": 2}]


def test_clear_keeps_a_directory_holding_files_it_did_not_write(tmp_path: Path) -> None:
    spool = ChunkSpool(tmp_path / "day")
    spool.write(0, [{"v": 1}])
    (tmp_path / "day" / "notes.txt").write_text("mine")
    spool.clear()
    assert [p.name for p in (tmp_path / "day").iterdir()] == ["notes.txt"]


def test_write_failure_is_a_disk_error_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "day").write_text("a file where the spool directory should be")
    spool = ChunkSpool(tmp_path / "day")
    with pytest.raises(DiskError, match=r"chunk-00000\.jsonl"):
        spool.write(0, [{"v": 1}])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day"]
