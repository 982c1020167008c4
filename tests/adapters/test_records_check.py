"""An artifact on disk is checked against its ledger row and its records counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyhaul.adapters import records_check
from skyhaul.adapters.records_check import check_artifact, count_records
from skyhaul.adapters.records_output import OUTPUT_FORMATS, OutputFormat, assemble_day
from skyhaul.adapters.records_spool import ChunkSpool
from skyhaul.core.backfill import ArtifactCheck
from skyhaul.errors import DiskError, UsageError


def one_day(tmp_path: Path, dest: Path) -> tuple[str, int, str]:
    spool = ChunkSpool(tmp_path / "spool")
    spool.write(0, [{"obTime": "2024-01-01T00:00:00Z", "idSensor": "S1", "dose": 1}])
    spool.write(1, [{"obTime": "2024-01-01T00:05:00Z", "idSensor": "S2", "dose": 2}])
    artifact = assemble_day(spool, 2, dest, "json")
    return str(artifact.path), artifact.size, artifact.sha256


def test_check_artifact_outcomes(tmp_path: Path) -> None:
    dest = tmp_path / "day.json"
    path, size, sha = one_day(tmp_path, dest)
    assert check_artifact(path, size, sha) is ArtifactCheck.INTACT
    assert check_artifact(path, size, sha.upper()) is ArtifactCheck.INTACT
    assert check_artifact(path, size + 1, sha) is ArtifactCheck.CHANGED
    assert check_artifact(path, size, "0" * 64) is ArtifactCheck.CHANGED
    assert check_artifact(path, None, None) is ArtifactCheck.CHANGED
    same_size = dest.read_bytes().replace(b"S1", b"S9")
    dest.write_bytes(same_size)
    assert check_artifact(path, size, sha) is ArtifactCheck.CHANGED
    dest.unlink()
    assert check_artifact(path, size, sha) is ArtifactCheck.MISSING
    assert check_artifact(None, size, sha) is ArtifactCheck.MISSING
    assert check_artifact(str(tmp_path / "day.json" / "x"), size, sha) is ArtifactCheck.MISSING
    assert check_artifact(str(tmp_path), size, sha) is ArtifactCheck.CHANGED  # a directory


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("[]", 0),
        (" [ ] \n", 0),
        ('[{"a": 1}, 2, "x,]", [3, [4]], null]', 5),
        ('[\n{"a":"]"},\n{"b":{"c":[1,2]}}\n]\n', 2),
    ],
)
def test_count_json_items(tmp_path: Path, text: str, count: int) -> None:
    path = tmp_path / "a.json"
    path.write_text(text)
    assert count_records(path, "json") == count


@pytest.mark.parametrize("cut", range(-4, 4))
def test_count_json_items_cut_across_read_blocks(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "a.json"
    head = "[" + " " * (records_check._JSON_BLOCK - 4 + cut)
    path.write_text(head + '12345, "abcdef", {"k": 1}]')  # a block ends inside an item
    assert count_records(path, "json") == 3


@pytest.mark.parametrize(
    ("output_format", "content"),
    [
        ("json", '{"a": 1}'),
        ("json", "[1, 2"),
        ("json", "[1 2]"),
        ("json", "[1, 2] 3"),
        ("json", "[1, tru]"),
        ("parquet", "not parquet"),
    ],
)
def test_count_records_of_a_malformed_file_is_a_disk_error(
    tmp_path: Path, output_format: OutputFormat, content: str
) -> None:
    path = tmp_path / f"bad.{output_format}"
    path.write_text(content)
    with pytest.raises(DiskError, match=f"bad.{output_format}"):
        count_records(path, output_format)


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_count_records_of_a_missing_file_is_a_disk_error(
    tmp_path: Path, output_format: OutputFormat
) -> None:
    with pytest.raises(DiskError, match=r"gone\.x is missing"):
        count_records(tmp_path / "gone.x", output_format)


def test_count_records_of_an_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown output format 'xml'"):
        count_records(tmp_path / "d.xml", "xml")  # type: ignore[arg-type]
