"""A day's artifact is assembled from real spool files, atomically, and checked on disk."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skyhaul.adapters import records_output
from skyhaul.adapters.records_check import count_records
from skyhaul.adapters.records_output import OUTPUT_FORMATS, Artifact, OutputFormat, assemble_day
from skyhaul.adapters.records_spool import ChunkSpool
from skyhaul.errors import DiskError, NoDataError, UsageError

# Three consecutive chunks, written out of order; chunk 1 is empty.
CHUNKS: dict[int, list[dict[str, Any]]] = {
    2: [
        {"obTime": "2024-01-01T00:10:00Z", "idSensor": "S1", "dose": 3, "ok": False},
        {"obTime": "2024-01-01T00:11:00Z", "idSensor": "S2", "dose": 4.5, "extra": {"k": [1]}},
    ],
    0: [
        {"obTime": "2024-01-01T00:00:00.000001Z", "idSensor": "S1", "dose": 1, "ok": True},
        {"obTime": "2024-01-01T00:01:00+00:00", "idSensor": 'S,2\n"q"', "dose": None},
    ],
    1: [],
}
ROWS = [*CHUNKS[0], *CHUNKS[2]]
COLUMNS = ["obTime", "idSensor", "dose", "ok", "extra"]


def day_spool(tmp_path: Path, chunks: dict[int, list[dict[str, Any]]] = CHUNKS) -> ChunkSpool:
    spool = ChunkSpool(tmp_path / "spool" / "2024-01-01")
    for index, records in chunks.items():
        spool.write(index, records)
    return spool


def assert_artifact(artifact: Artifact, dest: Path, records: int) -> None:
    data = dest.read_bytes()
    assert artifact == Artifact(dest, records, len(data), hashlib.sha256(data).hexdigest())
    left = sorted(p.name for p in dest.parent.iterdir() if p.name != "spool")
    assert left == [dest.name]  # no temporary file left


def test_csv_has_the_day_in_time_order_with_every_column(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "REACH" / "2024-01-01.csv"
    artifact = assemble_day(day_spool(tmp_path), 3, dest, "csv")
    assert_artifact(artifact, dest, 4)
    with dest.open(newline="", encoding="utf-8") as text:
        rows = list(csv.reader(text))
    assert rows == [
        COLUMNS,
        ["2024-01-01T00:00:00.000001Z", "S1", "1", "true", ""],
        ["2024-01-01T00:01:00+00:00", 'S,2\n"q"', "", "", ""],
        ["2024-01-01T00:10:00Z", "S1", "3", "false", ""],
        ["2024-01-01T00:11:00Z", "S2", "4.5", "", '{"k":[1]}'],
    ]
    assert count_records(dest, "csv") == 4


def test_json_is_one_array_of_the_records_in_time_order(tmp_path: Path) -> None:
    dest = tmp_path / "2024-01-01.json"
    artifact = assemble_day(day_spool(tmp_path), 3, dest, "json")
    assert_artifact(artifact, dest, 4)
    assert json.loads(dest.read_bytes()) == ROWS
    assert count_records(dest, "json") == 4


def test_parquet_types_columns_from_the_whole_day(tmp_path: Path) -> None:
    dest = tmp_path / "2024-01-01.parquet"
    artifact = assemble_day(day_spool(tmp_path), 3, dest, "parquet", time_field="obTime")
    assert_artifact(artifact, dest, 4)
    table = pq.read_table(dest)
    assert table.schema == pa.schema(
        [
            ("obTime", pa.timestamp("us", tz="UTC")),
            ("idSensor", pa.string()),
            ("dose", pa.float64()),
            ("ok", pa.bool_()),
            ("extra", pa.string()),
        ]
    )
    assert table.column("obTime").to_pylist() == [
        datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 1, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 10, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 11, tzinfo=UTC),
    ]
    assert table.column("dose").to_pylist() == [1.0, None, 3.0, 4.5]
    assert table.column("ok").to_pylist() == [True, None, False, None]
    assert table.column("extra").to_pylist() == [None, None, None, '{"k":[1]}']
    assert count_records(dest, "parquet") == 4


def test_parquet_column_kinds(tmp_path: Path) -> None:
    chunks = {
        0: [
            {"t": "2024-01-01T00:00:00Z", "i": 1, "f": 1.5, "b": True, "mixed": 1, "big": 2**64},
            {"t": "2024-01-01T00:00:01Z", "i": None, "f": 2, "b": False, "mixed": "x", "z": None},
            {"t": "2024-01-01T00:00:02Z", "i": -(2**63), "mixed": [1, {"a": None}]},
            {"t": "2024-01-01T00:00:03Z", "mixed": True},
        ]
    }
    dest = tmp_path / "d.parquet"
    assemble_day(day_spool(tmp_path, chunks), 1, dest, "parquet")  # no time field: a string
    table = pq.read_table(dest)
    assert dict(zip(table.schema.names, table.schema.types, strict=True)) == {
        "t": pa.string(),
        "i": pa.int64(),
        "f": pa.float64(),
        "b": pa.bool_(),
        "mixed": pa.string(),
        "big": pa.string(),
        "z": pa.string(),
    }
    assert table.column("mixed").to_pylist() == ["1", "x", '[1,{"a":null}]', "true"]
    assert table.column("big").to_pylist() == [str(2**64), None, None, None]
    assert table.column("i").to_pylist() == [1, None, -(2**63), None]


def test_parquet_row_groups_close_at_chunk_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records_output, "ROW_GROUP_RECORDS", 3)
    chunks = {i: [{"t": f"2024-01-01T00:00:0{i}Z", "n": i}] * 2 for i in range(5)}
    dest = tmp_path / "d.parquet"
    assemble_day(day_spool(tmp_path, chunks), 5, dest, "parquet", time_field="t")
    metadata = pq.ParquetFile(dest).metadata
    assert [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)] == [4, 4, 2]
    assert pq.read_table(dest).column("n").to_pylist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_no_records_is_no_data_and_no_file(tmp_path: Path, output_format: OutputFormat) -> None:
    dest = tmp_path / "out" / f"day.{output_format}"
    with pytest.raises(NoDataError, match="no records in the 3 chunks"):
        assemble_day(day_spool(tmp_path, {0: [], 1: [], 2: []}), 3, dest, output_format)
    assert not dest.exists()
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_failure_mid_assembly_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, output_format: OutputFormat
) -> None:
    dest = tmp_path / "out" / f"day.{output_format}"
    dest.parent.mkdir()
    dest.write_bytes(b"yesterday's complete file")
    spool = day_spool(tmp_path)
    spool.chunk_path(2).unlink()  # chunks 0 and 1 are written out before this shows
    with pytest.raises(DiskError, match=r"chunk-00002\.jsonl is missing"):
        assemble_day(spool, 3, dest, output_format)
    assert dest.read_bytes() == b"yesterday's complete file"
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]


def test_a_chunk_never_written_fails_before_any_file(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "day.csv"
    with pytest.raises(DiskError, match="has no chunk 3"):
        assemble_day(day_spool(tmp_path), 4, dest, "csv")
    assert not dest.parent.exists()


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_an_existing_file_is_replaced(tmp_path: Path, output_format: OutputFormat) -> None:
    dest = tmp_path / f"day.{output_format}"
    dest.write_bytes(b"old")
    (tmp_path / f".day.{output_format}.tmp").write_bytes(b"left by a killed run")
    artifact = assemble_day(day_spool(tmp_path), 3, dest, output_format)
    assert artifact.records == count_records(dest, output_format) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == [dest.name, "spool"]


def test_an_unwritable_destination_is_a_disk_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file where a directory should be")
    dest = tmp_path / "out" / "day.csv"
    with pytest.raises(DiskError, match=str(dest)):
        assemble_day(day_spool(tmp_path), 3, dest, "csv")


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown output format 'xml'"):
        assemble_day(day_spool(tmp_path), 3, tmp_path / "d.xml", "xml")  # type: ignore[arg-type]
