"""The ledger as CSV: the header, ISO times in UTC, empty cells, and atomic writes."""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from skyhaul.adapters.ledger_csv import FIELDS, write_ledger_csv
from skyhaul.core.backfill import DayRun, DayStatus, day_window
from skyhaul.errors import UsageError

D1 = date(2024, 3, 1)


def _run(day: date, status: DayStatus = DayStatus.PENDING, **fields: object) -> DayRun:
    start, end = day_window(day)
    return DayRun(
        run_id="r1",
        source="reach",
        day=day,
        status=status,
        window_start=start,
        window_end=end,
        started_at=start + timedelta(days=1, microseconds=250),
        **fields,
    )


ROWS = [
    _run(D1),
    _run(
        D1,
        DayStatus.DOWNLOADED,
        finished_at=datetime(2024, 3, 2, 1, 0, 5, tzinfo=timezone(timedelta(hours=1))),
        records=86_399,
        expected_records=86_400,
        availability=99.99884259259258,
        seconds=5.25,
        size=123_456,
        path="/data/reach, daily/2024-03-01.csv",  # a comma, quoted by the writer
        sha256="ab" * 32,
        requests=24,
        throttled=3,
    ),
    _run(
        D1 + timedelta(days=1),
        DayStatus.FAILED,
        error_type="PayloadError",
        error_message='not JSON: "<html>\nbad gateway"',
        output_format="parquet",
    ),
]


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _parse(field: dataclasses.Field[object], text: str) -> object:
    """What a reader of the CSV gets back for one cell of a DayRun field."""
    if text == "":
        return None
    if field.name == "day":
        return date.fromisoformat(text)
    if field.name in ("window_start", "window_end", "started_at", "finished_at"):
        assert text.endswith("Z"), text
        return datetime.fromisoformat(text.removesuffix("Z") + "+00:00")
    if field.name == "status":
        return DayStatus(text)
    if field.name in ("records", "expected_records", "size", "requests", "throttled"):
        return int(text)
    if field.name in ("availability", "seconds"):
        return float(text)
    return text


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    assert write_ledger_csv(ROWS, path) == 3
    with path.open(newline="", encoding="utf-8") as stream:
        header = next(csv.reader(stream))
    assert tuple(header) == FIELDS == tuple(f.name for f in dataclasses.fields(DayRun))
    fields = dataclasses.fields(DayRun)
    back = [DayRun(**{f.name: _parse(f, cells[f.name]) for f in fields}) for cells in _read(path)]
    assert back == ROWS


def test_cells(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    write_ledger_csv(ROWS, path)
    pending, downloaded, _failed = _read(path)
    assert pending["day"] == "2024-03-01"
    assert pending["window_start"] == "2024-03-01T00:00:00Z"
    assert pending["started_at"] == "2024-03-02T00:00:00.000250Z"
    assert pending["finished_at"] == pending["records"] == pending["path"] == ""
    assert pending["requests"] == "0" and pending["output_format"] == "csv"
    assert downloaded["finished_at"] == "2024-03-02T00:00:05Z"  # +01:00 written as UTC
    assert downloaded["status"] == "DOWNLOADED"


def test_no_rows_is_a_header(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    assert write_ledger_csv(iter([]), path) == 0
    assert path.read_text(encoding="utf-8").splitlines() == [",".join(FIELDS)]


def test_replaces_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text("old\n")
    write_ledger_csv(ROWS, path)
    assert os.listdir(tmp_path) == ["ledger.csv"]
    assert len(_read(path)) == 3


def test_a_failure_half_way_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text("old\n")

    def rows() -> Iterator[DayRun]:
        yield ROWS[0]
        raise RuntimeError("catalog went away")

    with pytest.raises(RuntimeError):
        write_ledger_csv(rows(), path)
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["ledger.csv"]


def test_naive_times_are_refused(tmp_path: Path) -> None:
    naive = dataclasses.replace(ROWS[0], started_at=datetime(2024, 3, 2))
    with pytest.raises(ValueError, match="naive"):
        write_ledger_csv([naive], tmp_path / "ledger.csv")
    assert os.listdir(tmp_path) == []


def test_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "ledger.csv"
    with pytest.raises(UsageError) as caught:
        write_ledger_csv(ROWS, path)
    message = str(caught.value)
    assert message.startswith(f"cannot write ledger CSV {path}: ")
    assert "No such file or directory" in message and "\n" not in message
    assert caught.value.exit_code == 2


def test_a_directory_in_the_way_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.mkdir()
    with pytest.raises(UsageError, match="cannot write ledger CSV"):
        write_ledger_csv(ROWS, path)
    assert sorted(os.listdir(tmp_path)) == ["ledger.csv"]


def test_a_full_disk_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    path = tmp_path / "ledger.csv"
    with pytest.raises(UsageError, match="No space left on device"):
        write_ledger_csv(ROWS, path)
    assert os.listdir(tmp_path) == []
