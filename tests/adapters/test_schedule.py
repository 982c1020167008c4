"""Pass schedules (ground-station slots) from CSV and JSON files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skyhaul.adapters.schedule import read_slots
from skyhaul.core.model import Slot
from skyhaul.errors import ManifestError

PASS_7 = Slot(
    name="pass-7",
    start=datetime(2024, 3, 1, 0, 10, tzinfo=UTC),
    end=datetime(2024, 3, 1, 0, 20, tzinfo=UTC),
    station="SVL",
)
PASS_8 = Slot(
    name="pass-8",
    start=datetime(2024, 3, 1, 1, 40, tzinfo=UTC),
    end=datetime(2024, 3, 1, 1, 52, tzinfo=UTC),
    station=None,
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ManifestError) as caught:
        read_slots(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


# --- CSV ----------------------------------------------------------------------------------


def test_csv_schedule(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "passes.csv",
        "slot,start,end,station\n"
        "pass-7,2024-03-01T00:10:00Z,2024-03-01T00:20:00Z,SVL\n"
        "pass-8,2024-03-01T01:40:00,2024-03-01T02:52:00+01:00,\n",
    )
    assert read_slots(path) == [PASS_7, PASS_8]


@pytest.mark.parametrize(
    "header",
    [
        "slot,start,end,station",
        "SLOT_ID,AOS,LOS,Ground_Station",
        "id,start_time,end_time,station",
        " Name , Start , End , Station ",
    ],
)
def test_csv_column_aliases_in_any_case(tmp_path: Path, header: str) -> None:
    path = write(
        tmp_path, "passes.csv", f"{header}\npass-7,2024-03-01T00:10Z,2024-03-01T00:20Z,SVL\n"
    )
    assert read_slots(path) == [PASS_7]


def test_csv_skips_blank_and_comment_lines_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "passes.csv"
    path.write_text(
        "\ufeff# schedule for March\n\nslot,aos,los\n\n"
        "# the first pass\npass-7,2024-03-01T00:10Z,2024-03-01T00:20Z\n",
        encoding="utf-8",
    )
    [slot] = read_slots(path)
    assert (slot.name, slot.start, slot.end, slot.station) == (
        "pass-7",
        PASS_7.start,
        PASS_7.end,
        None,
    )


def test_csv_order_is_kept_and_columns_may_be_in_any_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "passes.csv",
        "station,end,start,slot\n"
        ",2024-03-01T01:52Z,2024-03-01T01:40Z,pass-8\n"
        "SVL,2024-03-01T00:20Z,2024-03-01T00:10Z,pass-7\n",
    )
    assert read_slots(path) == [PASS_8, PASS_7]


def test_zero_length_pass_is_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "slot,start,end\np,2024-03-01T00:10Z,2024-03-01T00:10Z\n")
    [slot] = read_slots(path)
    assert slot.start == slot.end


# --- JSON ---------------------------------------------------------------------------------


def _json_items() -> list[dict[str, object]]:
    return [
        {
            "slot": "pass-7",
            "AOS": "2024-03-01T00:10:00Z",
            "los": "2024-03-01T00:20Z",
            "station": "SVL",
        },
        {"id": "pass-8", "start_time": "2024-061T01:40", "END_TIME": "2024-03-01T01:52:00Z"},
    ]


def test_json_list(tmp_path: Path) -> None:
    path = write(tmp_path, "passes.json", json.dumps(_json_items()))
    assert read_slots(path) == [PASS_7, PASS_8]


def test_json_object_with_a_slots_list(tmp_path: Path) -> None:
    path = write(tmp_path, "passes.json", json.dumps({"mission": "x", "slots": _json_items()}))
    assert read_slots(path) == [PASS_7, PASS_8]


def test_json_is_sniffed_whatever_the_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "passes.txt", "\n  " + json.dumps(_json_items()))
    assert read_slots(path) == [PASS_7, PASS_8]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"passes": []}, "expected a JSON list of slots"),
        ([["pass-7"]], "item 1: not an object"),
        ([{"slot": "a", "start": "2024-03-01", "end": "2024-03-02"}, 3], "item 2: not an object"),
    ],
)
def test_json_of_the_wrong_shape(tmp_path: Path, document: object, expected: str) -> None:
    path = write(tmp_path, "passes.json", json.dumps(document))
    assert expected in error_of(path)


def test_invalid_json(tmp_path: Path) -> None:
    path = write(tmp_path, "passes.json", '[{"slot": "a",]')
    assert "not valid JSON" in error_of(path)


def test_json_error_names_the_item(tmp_path: Path) -> None:
    items = [*_json_items(), {"slot": "pass-9", "start": "2024-03-01T03:00Z", "end": "soon"}]
    path = write(tmp_path, "passes.json", json.dumps(items))
    message = error_of(path)
    assert message.startswith(f"{path}: item 3: end: ")
    assert "'soon'" in message


# --- problems -----------------------------------------------------------------------------


def test_bad_time_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "passes.csv",
        "slot,start,end\n"
        "pass-7,2024-03-01T00:10Z,2024-03-01T00:20Z\n"
        "\n"
        "pass-8,2024-03-01T25:00Z,2024-03-01T01:52Z\n",
    )
    message = error_of(path)
    assert message.startswith(f"{path}:4: start: ")
    assert "'2024-03-01T25:00Z'" in message


def test_end_before_start(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "passes.csv",
        "slot,start,end\npass-7,2024-03-01T02:00Z,2024-03-01T01:00Z\n",
    )
    message = error_of(path)
    assert message == f"{path}:2: end 2024-03-01T01:00:00Z is before start"


def test_duplicate_slot_id(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "passes.csv",
        "slot,start,end\n"
        "pass-7,2024-03-01T00:10Z,2024-03-01T00:20Z\n"
        "pass-8,2024-03-01T01:40Z,2024-03-01T01:52Z\n"
        "pass-7,2024-03-02T00:10Z,2024-03-02T00:20Z\n",
    )
    assert error_of(path) == f"{path}:4: slot 'pass-7' is listed twice"


def test_duplicate_slot_id_in_json(tmp_path: Path) -> None:
    items = [*_json_items(), {"name": "pass-8", "start": "2024-03-02", "end": "2024-03-02"}]
    path = write(tmp_path, "passes.json", json.dumps(items))
    assert error_of(path) == f"{path}: item 3: slot 'pass-8' is listed twice"


@pytest.mark.parametrize(
    ("header", "row", "role"),
    [
        ("start,end", "2024-03-01,2024-03-02", "name"),
        ("slot,end", "p,2024-03-02", "start"),
        ("slot,start", "p,2024-03-01", "end"),
        ("slot,start,end", " ,2024-03-01,2024-03-02", "name"),
    ],
)
def test_missing_column_or_value(tmp_path: Path, header: str, row: str, role: str) -> None:
    path = write(tmp_path, "passes.csv", f"{header}\n{row}\n")
    message = error_of(path)
    assert message.startswith(f"{path}:2: missing {role} (column ")


def test_row_with_the_wrong_number_of_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "passes.csv", "slot,start,end\np,2024-03-01\n")
    assert error_of(path) == f"{path}:2: 2 columns, the header has 3"


@pytest.mark.parametrize(
    "text", ["", "\n\n", "# only a comment\n", "slot,start,end\n", "[]", '{"slots": []}']
)
def test_empty_schedule(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "passes.csv", text)
    assert error_of(path) == f"{path}: no slots listed"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    assert error_of(path) == f"{path}: no such file"


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"slot,start,end\n\xff\xfe\x00bad\n")
    assert "cannot read" in error_of(path)


def test_a_csv_field_over_128_kib(tmp_path: Path) -> None:
    path = write(
        tmp_path, "passes.csv", f"slot,start,end\np1,2024-03-01,2024-03-02\np2,{'x' * 140_000}\n"
    )
    assert error_of(path) == f"{path}:3: not valid CSV: field larger than field limit (131072)"


def test_deeply_nested_json(tmp_path: Path) -> None:
    path = write(tmp_path, "passes.json", "[" * 100_000 + "]" * 100_000)
    assert error_of(path) == f"{path}: not valid JSON: nested too deeply"


def test_a_time_past_the_calendars_edge(tmp_path: Path) -> None:
    path = write(tmp_path, "passes.csv", "slot,start,end\np1,9999-12-31T23:00,9999-12-31T24:00\n")
    assert error_of(path) == (
        f"{path}:2: end: '9999-12-31T24:00' is after 9999-12-31T23:59:59.999999Z,"
        " the last time skyhaul can hold"
    )
