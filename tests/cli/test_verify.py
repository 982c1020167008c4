"""``skyhaul verify``, and the cheap check ``get`` and ``download`` make of present copies."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

Invoke = Callable[..., Result]
States = Callable[[], dict[str, int]]


def _paths(manifest: Path) -> list[str]:
    with manifest.open(newline="") as handle:
        return [row["path"] for row in csv.DictReader(handle)]


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_verify_finds_damage_and_the_next_download_repairs_it(
    skyhaul: Invoke, manifest: Path, tmp_path: Path, states: States
) -> None:
    assert skyhaul("get", "-i", str(manifest), "-d", "files").exit_code == 0
    paths = _paths(manifest)
    (tmp_path / "files" / paths[0]).unlink()
    _flip_a_byte(tmp_path / "files" / paths[1])  # same size: only a hash tells
    result = skyhaul("verify", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("checked", "ok", "missing", "changed")} == {
        "checked": len(paths),
        "ok": len(paths) - 2,
        "missing": 1,
        "changed": 1,
    }
    assert sorted((d["path"], d["condition"]) for d in report["damaged"]) == sorted(
        [(paths[0], "missing"), (paths[1], "changed")]
    )
    assert states() == {"DOWNLOADED": len(paths) - 2, "FAILED": 2}
    again = skyhaul("download", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["downloaded"] == 2
    clean = skyhaul("verify")
    assert clean.exit_code == 0, clean.output
    assert f"{len(paths)} checked: {len(paths)} ok, 0 missing, 0 changed" in clean.stdout
    assert states() == {"DOWNLOADED": len(paths)}


def test_verify_takes_the_selection_options(
    skyhaul: Invoke, manifest: Path, tmp_path: Path
) -> None:
    assert skyhaul("get", "-i", str(manifest), "-d", "files").exit_code == 0
    (tmp_path / "files" / _paths(manifest)[0]).unlink()
    other = skyhaul("verify", "--id", "2")
    assert other.exit_code == 0, other.output
    assert "1 checked: 1 ok" in other.stdout
    damaged = skyhaul("verify", "--id", "1")
    assert damaged.exit_code == 1
    assert "1 checked: 0 ok, 1 missing, 0 changed" in damaged.stdout
    assert _paths(manifest)[0] in damaged.stdout


def test_get_notices_a_deleted_file_and_fetches_it_again(
    skyhaul: Invoke, manifest: Path, tmp_path: Path, states: States
) -> None:
    assert skyhaul("get", "-i", str(manifest), "-d", "files").exit_code == 0
    gone = tmp_path / "files" / _paths(manifest)[3]
    gone.unlink()
    again = skyhaul("get", "-i", str(manifest), "-d", "files", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["downloaded"] == 1
    assert gone.exists()
    assert states() == {"DOWNLOADED": len(_paths(manifest))}


def test_download_notices_a_file_of_another_size(
    skyhaul: Invoke, manifest: Path, tmp_path: Path
) -> None:
    assert skyhaul("get", "-i", str(manifest), "-d", "files").exit_code == 0
    cut = tmp_path / "files" / _paths(manifest)[5]
    size = cut.stat().st_size
    cut.write_bytes(cut.read_bytes()[: size // 2])
    again = skyhaul("download", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["downloaded"] == 1
    assert cut.stat().st_size == size


def test_verify_of_an_empty_catalog(skyhaul: Invoke, catalog: object) -> None:
    result = skyhaul("verify")
    assert result.exit_code == 0, result.output
    assert "0 checked" in result.stdout
