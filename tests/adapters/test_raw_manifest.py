"""Raw file manifests: good rows kept, each bad row reported with its line, never blocking."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from skyhaul.adapters.raw_manifest import read_raw_manifest
from skyhaul.core.rawfiles import RawFileEntry
from skyhaul.errors import ManifestError

SHA = "ab" * 32
OTHER = "cd" * 32
HEADER = "path,obs_unit,instrument_module,size,sha256"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_become_entries(tmp_path: Path) -> None:
    manifest = write(
        tmp_path,
        "raw.csv",
        f"{HEADER}\n"
        f"eou-1/cam/a.dat,eou-1,cam,10,{SHA}\n"
        "# a comment\n"
        f"eou-1//./cam/b.dat, eou-1 , cam ,0,SHA256:{OTHER.upper()}\n",
    )
    read = read_raw_manifest(manifest)
    assert read.problems == ()
    assert read.entries == (
        RawFileEntry("eou-1/cam/a.dat", 10, SHA, "eou-1", "cam"),
        RawFileEntry("eou-1/cam/b.dat", 0, OTHER, "eou-1", "cam"),
    )


def test_each_bad_row_is_reported_with_its_line_and_skipped(tmp_path: Path) -> None:
    rows = [
        HEADER,
        f"ok/1,u,m,1,{SHA}",  # line 2
        f"ok/2,u,m,many,{SHA}",  # 3: size
        "ok/3,u,m,3,nothex",  # 4: sha256
        f"../escape,u,m,4,{SHA}",  # 5: leaves the location
        f"ok/5,u/x,m,5,{SHA}",  # 6: a separator in a label
        f"ok/6,,m,6,{SHA}",  # 7: no obs_unit
        f"ok/7,u,m,7,{SHA},extra",  # 8: too many fields
        f"ok/1,u,m,1,{SHA}",  # 9: an exact repeat: dropped silently
        f"ok/1,u,m,2,{SHA}",  # 10: the same path, other values
        f"ok/10,u,m,10,{SHA}",  # 11
    ]
    read = read_raw_manifest(write(tmp_path, "raw.csv", "\n".join(rows) + "\n"))
    assert [e.path for e in read.entries] == ["ok/1", "ok/10"]
    by_line = {p.line: p for p in read.problems}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 10]
    assert "size 'many' is not a whole number" in by_line[3].reason
    assert "64 hex digits" in by_line[4].reason
    assert "'..'" in by_line[5].reason
    assert "path separator" in by_line[6].reason
    assert by_line[7].reason == "no obs_unit"
    assert "6 fields but the header has 5 columns" in by_line[8].reason
    assert "also listed at" in by_line[10].reason and ":2" in by_line[10].reason
    assert str(by_line[3]) == f"{tmp_path / 'raw.csv'}:3: {by_line[3].reason}"
    assert all("\n" not in str(p) for p in read.problems)


def test_json_items_and_their_problems(tmp_path: Path) -> None:
    items = [
        {"path": "u/m/a", "obs_unit": "u", "instrument_module": "m", "size": 5, "sha256": SHA},
        "u/m/bare-string",
        {"path": "u/m/b", "obs_unit": "u", "instrument_module": "m", "size": True, "sha256": SHA},
        {"path": "u/m/c", "obs_unit": ["u"], "instrument_module": "m", "size": 1, "sha256": SHA},
        {"path": "u/m/d", "obs_unit": 7, "instrument_module": "m", "size": 1, "sha256": SHA},
    ]
    read = read_raw_manifest(write(tmp_path, "raw.json", json.dumps({"files": items})))
    assert [e.path for e in read.entries] == ["u/m/a", "u/m/d"]
    assert read.entries[1].obs_unit == "7"
    assert [(p.line, p.where.endswith(f"item {p.line}")) for p in read.problems] == [
        (2, True),
        (3, True),
        (4, True),
    ]
    assert "expected an object with a 'path'" in read.problems[0].reason
    assert "obs_unit must be text" in read.problems[2].reason


def test_format_is_sniffed_without_an_extension(tmp_path: Path) -> None:
    csv_read = read_raw_manifest(write(tmp_path, "list", f"{HEADER}\na,u,m,1,{SHA}\n"))
    json_read = read_raw_manifest(
        write(
            tmp_path,
            "list2",
            json.dumps(
                [
                    {
                        "path": "a",
                        "obs_unit": "u",
                        "instrument_module": "m",
                        "size": "1",
                        "sha256": SHA,
                    }
                ]
            ),
        )
    )
    assert csv_read.entries == json_read.entries


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("raw.csv", "path,obs_unit,size,sha256\n", "no 'instrument_module' column"),
        ("raw.csv", f"{HEADER},size\n", "column 'size' appears twice"),
        ("raw.json", "[1, 2", "not valid JSON"),
        ("raw.json", '{"rows": []}', "expected a JSON list of files"),
        ("notes.txt", "just some words\n", "no 'path' column"),
    ],
)
def test_a_spoiled_file_is_one_error(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message) as excinfo:
        read_raw_manifest(write(tmp_path, name, text))
    assert "\n" not in str(excinfo.value)


def test_a_missing_file_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file"):
        read_raw_manifest(tmp_path / "absent.csv")


def test_unknown_columns_are_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = f"{HEADER},comment\na,u,m,1,{SHA},hello\nb,u,m,1,{SHA},again\n"
    with caplog.at_level(logging.WARNING):
        read = read_raw_manifest(write(tmp_path, "raw.csv", text))
    assert len(read.entries) == 2
    assert caplog.text.count("ignoring unknown columns: comment") == 1
