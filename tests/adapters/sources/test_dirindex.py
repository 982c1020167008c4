"""Per-directory index tables: name to observation time, instrument and end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from skyhaul.adapters.sources.dirindex import IndexTableFormat, parse_index_table
from skyhaul.adapters.sources.filetimes import FileTimes

# The layout of SOHO/LASCO img_hdr.txt: no header, whitespace-separated.
IMG_HDR = """\
22812345.fts 2024/03/01 00:12:05.450   C2  25.1  1024 1024  Orange Clear
22812346.fts 2024/03/01 00:24:05.450   C2  25.1  1024 1024  Orange Clear
# a comment line

22812347.fts 2024/03/01 00:30:00.000   C3  17.6  1024 1024  Clear  Clear
"""
LASCO = IndexTableFormat(
    columns={"name": 0, "date": 1, "time": 2, "instrument": 3, "exposure": 4},
    time_format="%Y/%m/%d %H:%M:%S.%f",
    header=False,
)


def test_lasco_img_hdr() -> None:
    rows = parse_index_table(IMG_HDR, LASCO)
    start = datetime(2024, 3, 1, 0, 12, 5, 450000, tzinfo=UTC)
    assert rows["22812345.fts"] == FileTimes(start, start + timedelta(seconds=25.1), "C2")
    assert rows["22812347.fts"].instrument == "C3"
    assert list(rows) == ["22812345.fts", "22812346.fts", "22812347.fts"]


def test_csv_with_header_and_column_names() -> None:
    text = (
        "File,Start,End,Detector\n"
        "data/a.fts,2024-03-01T00:00:00Z,2024-03-01T00:10:00Z,AIA\n"
        '"b,1.fts",2024-03-01T01:00:00,,HMI\n'
        "a.fts,2025-01-01T00:00:00Z,,AIA\n"
    )
    table = IndexTableFormat(
        columns={"name": "file", "time": "START", "end": "End", "instrument": "detector"}
    )
    rows = parse_index_table(text, table)
    assert rows["a.fts"] == FileTimes(  # a path keeps its last part; the first row wins
        datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, 0, 10, tzinfo=UTC), "AIA"
    )
    assert rows["b,1.fts"] == FileTimes(datetime(2024, 3, 1, 1, tzinfo=UTC), None, "HMI")


def test_end_as_a_time_of_day_rolls_past_midnight() -> None:
    text = "name date time end\nx.fts 2024-03-01 23:59:00 00:01:00\ny.fts 2024-03-01 10:00 10:05\n"
    rows = parse_index_table(text, IndexTableFormat({"name": 0, "date": 1, "time": 2, "end": 3}))
    assert rows["x.fts"].end == datetime(2024, 3, 2, 0, 1, tzinfo=UTC)
    assert rows["y.fts"].end == datetime(2024, 3, 1, 10, 5, tzinfo=UTC)


def test_bad_rows_keep_what_they_have() -> None:
    text = "a.fts not-a-time C2\nshort\nb.fts 2024-03-01 C2 nan-ish\n"
    table = IndexTableFormat(
        {"name": 0, "date": 1, "instrument": 2, "exposure": 3}, header=False, delimiter="whitespace"
    )
    rows = parse_index_table(text, table)
    assert rows["a.fts"] == FileTimes(None, None, "C2")
    assert rows["short"] == FileTimes()
    assert rows["b.fts"] == FileTimes(datetime(2024, 3, 1, tzinfo=UTC), None, "C2")


def test_explicit_delimiter() -> None:
    text = "name;time\nx.fts;2024-03-01T12:00:00\n"
    rows = parse_index_table(
        text, IndexTableFormat({"name": "name", "time": "time"}, delimiter=";")
    )
    assert rows["x.fts"].start == datetime(2024, 3, 1, 12, tzinfo=UTC)


def test_empty_table() -> None:
    assert parse_index_table("# nothing\n\n", LASCO) == {}


def test_missing_header_column_is_named() -> None:
    with pytest.raises(ValueError, match=r"no column 'when' in the header \(name, time\)"):
        parse_index_table("name,time\n", IndexTableFormat({"name": "name", "time": "when"}))


@pytest.mark.parametrize(
    ("columns", "extra", "message"),
    [
        ({"time": 1}, {}, "'name' column is required"),
        ({"name": 0}, {}, "'time' or 'date'"),
        ({"name": 0, "time": 1, "colour": 2}, {}, "unknown column role 'colour'"),
        ({"name": 0, "time": -1}, {}, "must not be negative"),
        ({"name": 0, "time": 1.5}, {}, "column name or a 0-based position"),
        ({"name": 0, "time": True}, {}, "column name or a 0-based position"),
        ({"name": "file", "time": 1}, {"header": False}, "has no header"),
        ({"name": 0, "time": 1}, {"delimiter": ",,"}, "one character"),
    ],
)
def test_invalid_formats(
    columns: dict[str, object], extra: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        IndexTableFormat(columns, **extra)  # type: ignore[arg-type]
