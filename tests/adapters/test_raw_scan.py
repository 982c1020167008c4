"""Scanning a location's directory: one read per file, and what is left for next time."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from skyhaul.adapters import raw_scan
from skyhaul.adapters.raw_scan import scan_directory, scan_location
from skyhaul.core.rawfiles import RawFileEntry
from skyhaul.core.scanpattern import ScanPattern
from skyhaul.sim.observatory import Observatory

LAYOUT = ScanPattern.parse("{obs_unit}/{instrument_module}/**")


def put(root: Path, relative: str, data: bytes = b"x") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_finds_what_the_observatory_wrote_with_the_same_checksums(tmp_path: Path) -> None:
    written = Observatory(tmp_path, units=2, modules=3, seed=4, sizes=(1, 4096)).write(24)
    report = scan_directory(tmp_path, LAYOUT)
    assert sorted(report.files, key=lambda e: e.path) == sorted(written, key=lambda e: e.path)
    assert report.skipped == []
    assert report.unmatched == 0  # the observatory's hidden state file is not a raw file


def test_part_temporary_and_hidden_names_are_never_registered(tmp_path: Path) -> None:
    put(tmp_path, "u/m/good.dat", b"abc")
    for name in ("a.part", "a.dat.skyhaul.part", "b.partial", "c.tmp", ".hidden", ".x.dat.1.tmp"):
        put(tmp_path, f"u/m/{name}")
    put(tmp_path, "u/m/.skyhaul/packages/p.tar")
    report = scan_directory(tmp_path, LAYOUT)
    assert report.files == [
        RawFileEntry("u/m/good.dat", 3, hashlib.sha256(b"abc").hexdigest(), "u", "m")
    ]
    assert report.skipped == [] and report.unmatched == 0


def test_unmatched_files_are_counted_and_hopeless_directories_not_entered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(tmp_path, "raw/u/m/f.dat")
    put(tmp_path, "raw/loose.dat")  # in a directory that may hold matches: counted
    put(tmp_path, "other/u/m/f.dat")  # under a directory no match can be in
    listed: list[str] = []
    real_scandir = os.scandir

    def spy(path: Any) -> Any:
        listed.append(os.path.relpath(path, tmp_path))
        return real_scandir(path)

    monkeypatch.setattr(raw_scan.os, "scandir", spy)
    report = scan_directory(tmp_path, ScanPattern.parse("raw/{obs_unit}/{instrument_module}/*"))
    assert [e.path for e in report.files] == ["raw/u/m/f.dat"]
    assert report.unmatched == 1
    assert "other" not in listed and "raw/u/m" in listed


def test_a_file_that_grows_while_read_is_left_for_the_next_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    growing = put(tmp_path, "u/m/growing.dat", b"first part")
    put(tmp_path, "u/m/steady.dat", b"done")
    real_digest = hashlib.file_digest

    def writer_appends(file: Any, name: str) -> Any:
        if os.fstat(file.fileno()).st_ino == growing.stat().st_ino:
            with growing.open("ab") as more:
                more.write(b", second part")
        return real_digest(file, name)

    monkeypatch.setattr(raw_scan.hashlib, "file_digest", writer_appends)
    report = scan_directory(tmp_path, LAYOUT)
    assert [e.path for e in report.files] == ["u/m/steady.dat"]
    assert [(s.path, s.reason) for s in report.skipped] == [
        ("u/m/growing.dat", "changed while being read")
    ]
    monkeypatch.undo()
    again = scan_directory(tmp_path, LAYOUT)  # the writer is done: registered now
    assert {e.path: e.size for e in again.files}["u/m/growing.dat"] == len(
        b"first part, second part"
    )


def test_a_file_replaced_while_read_is_left_for_the_next_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = put(tmp_path, "u/m/f.dat", b"old")
    real_digest = hashlib.file_digest

    def replaced(file: Any, name: str) -> Any:
        put(tmp_path, "u/m/.new.tmp", b"new").replace(target)  # a writer's atomic rename
        return real_digest(file, name)

    monkeypatch.setattr(raw_scan.hashlib, "file_digest", replaced)
    report = scan_directory(tmp_path, LAYOUT)
    assert report.files == []
    assert [s.reason for s in report.skipped] == ["changed while being read"]


def test_recently_modified_files_settle_first(tmp_path: Path) -> None:
    fresh = put(tmp_path, "u/m/fresh.dat")
    old = put(tmp_path, "u/m/old.dat")
    os.utime(old, (1000.0, 1000.0))
    os.utime(fresh, (1095.0, 1095.0))
    report = scan_directory(tmp_path, LAYOUT, settle=10.0, clock=lambda: 1100.0)
    assert [e.path for e in report.files] == ["u/m/old.dat"]
    assert [s.path for s in report.skipped] == ["u/m/fresh.dat"]
    assert "settling" in report.skipped[0].reason


def test_known_files_are_not_hashed(tmp_path: Path) -> None:
    put(tmp_path, "u/m/a.dat", b"aa")
    put(tmp_path, "u/m/b.dat", b"bbb")
    asked: list[tuple[str, int]] = []

    def known(path: str, size: int) -> bool:
        asked.append((path, size))
        return path == "u/m/a.dat"

    report = scan_directory(tmp_path, LAYOUT, known=known)
    assert asked == [("u/m/a.dat", 2), ("u/m/b.dat", 3)]
    assert [e.path for e in report.files] == ["u/m/b.dat"]
    assert report.known == 1


def test_symlinks_and_fifos_are_skipped_with_a_reason(tmp_path: Path) -> None:
    outside = put(tmp_path / "elsewhere", "secret.dat")
    root = tmp_path / "loc"
    put(root, "u/m/real.dat")
    (root / "u/m/link.dat").symlink_to(outside)
    (root / "u/linked-dir").symlink_to(outside.parent, target_is_directory=True)
    os.mkfifo(root / "u/m/pipe.dat")
    report = scan_directory(root, LAYOUT)
    assert [e.path for e in report.files] == ["u/m/real.dat"]
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons["u/m/link.dat"].startswith("a symlink")
    assert reasons["u/linked-dir"].startswith("a symlink")
    assert reasons["u/m/pipe.dat"] == "not a regular file"


def test_labels_no_package_may_take_are_skipped(tmp_path: Path) -> None:
    put(tmp_path, "u/m/ok.dat")
    put(tmp_path, "u\\x/m/f.dat")
    report = scan_directory(tmp_path, LAYOUT)
    assert [e.path for e in report.files] == ["u/m/ok.dat"]
    assert "path separator" in report.skipped[0].reason


def test_a_missing_root_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        scan_directory(tmp_path / "absent", LAYOUT)


async def test_scan_location_runs_in_a_thread(tmp_path: Path) -> None:
    written = Observatory(tmp_path, seed=1, sizes=(10, 100)).write(5)
    report = await scan_location(tmp_path, LAYOUT)
    assert {e.sha256 for e in report.files} == {e.sha256 for e in written}
