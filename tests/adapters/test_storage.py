"""Destination confinement and part-file promotion on a real filesystem."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyhaul.adapters.sinks import LocalSink, LocalSinks
from skyhaul.adapters.storage import (
    DestinationRoot,
    PartFile,
    atomic_file,
    map_os_errors,
    promote_all,
)
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileRecord
from skyhaul.errors import DiskError, DiskFullError, PathEscapeError, SkyhaulError


@pytest.mark.parametrize("bad", ["../x.fits", "a/../../x", "/etc/passwd", "", "a/\x00b"])
def test_paths_escaping_the_root_are_refused(tmp_path: Path, bad: str) -> None:
    root = DestinationRoot(tmp_path / "root")
    with pytest.raises(PathEscapeError):
        root.final_path(bad)
    assert not (tmp_path / "x.fits").exists()


def test_symlinked_directory_leading_outside_is_refused_before_creating(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = DestinationRoot(tmp_path / "root")
    (root.root / "link").symlink_to(outside)
    with pytest.raises(PathEscapeError, match="symlink"):
        root.final_path("link/sub/file.fits")
    assert not (outside / "sub").exists()


def test_symlink_inside_the_root_is_followed(tmp_path: Path) -> None:
    root = DestinationRoot(tmp_path / "root")
    (root.root / "real").mkdir()
    (root.root / "alias").symlink_to(root.root / "real")
    assert root.final_path("alias/f.fits") == root.root / "real" / "f.fits"


def test_final_name_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    root = DestinationRoot(tmp_path / "root")
    (root.root / "f.fits").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PathEscapeError):
        root.final_path("f.fits")


def test_a_name_below_a_directory_seen_before_is_checked_as_the_first(tmp_path: Path) -> None:
    root = DestinationRoot(tmp_path / "root")
    assert root.final_path("a.fits") == root.root / "a.fits"
    for bad in ("/b.fits", "//b.fits", "C:b.fits"):
        with pytest.raises(PathEscapeError):
            root.final_path(bad)
    assert root.final_path("raw/a.fits") == root.root / "raw" / "a.fits"
    assert root.final_path("raw/b.fits") == root.root / "raw" / "b.fits"
    assert root.final_path("raw/c\\d.fits") == root.root / "raw" / "c" / "d.fits"
    assert root.final_path("raw/.") == root.root / "raw"
    for bad in ("raw/..", "raw/x\\..\\..\\y", "raw/\x00", "raw/b.fits.skyhaul.part"):
        with pytest.raises(PathEscapeError):
            root.final_path(bad)
    (root.root / "raw" / "e.fits").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PathEscapeError, match="symlink"):
        root.final_path("raw/e.fits")


@settings(max_examples=300, database=None, deadline=None)
@given(st.lists(st.text(alphabet="ab./\\ :C\x00", max_size=8), min_size=1, max_size=6))
def test_a_root_that_saw_other_paths_answers_each_as_a_fresh_one(paths: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        seen = DestinationRoot(Path(scratch, "root"))
        for path in paths:
            fresh = DestinationRoot(Path(scratch, "root"))
            assert _answer(seen, path) == _answer(fresh, path)


def _answer(root: DestinationRoot, path: str) -> Path | str:
    try:
        return root.final_path(path)
    except SkyhaulError as exc:
        return type(exc).__name__


def test_an_os_error_on_the_final_name_is_a_disk_error(tmp_path: Path) -> None:
    root = DestinationRoot(tmp_path / "root")
    name = "x" * 300  # longer than a file system's name (the row was not validated)
    # At the top, below a directory walked now, and below one walked before.
    for relative in (name, f"sub/{name}", f"sub/{name}"):
        for find in (root.final_path, root.locate):
            with pytest.raises(DiskError, match=r"^cannot write .*: File name too long$"):
                find(relative)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may search any directory")
def test_a_directory_skyhaul_may_not_search_is_a_disk_error(tmp_path: Path) -> None:
    root = DestinationRoot(tmp_path / "root")
    (root.root / "closed").mkdir(mode=0o600)
    with pytest.raises(DiskError, match="Permission denied"):
        root.final_path("closed/f.fits")


def test_nested_directories_are_created(tmp_path: Path) -> None:
    root = DestinationRoot(tmp_path / "root")
    final = root.final_path("raw/eui/20260101/a.fits")
    assert final.parent.is_dir()
    assert final == root.root / "raw" / "eui" / "20260101" / "a.fits"


def test_part_file_is_promoted_atomically(tmp_path: Path) -> None:
    final = DestinationRoot(tmp_path).final_path("f.bin")
    part = PartFile(final)
    part.open(truncate=True)
    part.write_at(4, b"5678")
    part.write_at(0, b"1234")
    assert not final.exists()
    assert promote_all([part]) == [None]
    assert final.read_bytes() == b"12345678"
    assert not part.path.exists()


def test_part_file_keeps_bytes_across_reopen(tmp_path: Path) -> None:
    part = PartFile(tmp_path / "f.bin")
    part.open(truncate=True)
    part.write_at(0, b"abc")
    part.close()
    assert part.existing_size() == 3
    part.open(truncate=False)
    assert part.read_at(0, 3) == b"abc"
    part.discard()
    assert part.existing_size() == 0


def test_full_disk_and_other_write_errors_are_mapped(tmp_path: Path) -> None:
    with pytest.raises(DiskFullError, match="no space left"):
        with map_os_errors(tmp_path / "x"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    with pytest.raises(DiskError, match="Permission denied"):
        with map_os_errors(tmp_path / "x"):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))


async def test_promoter_promotes_a_batch_and_reports_errors_per_file(tmp_path: Path) -> None:
    import asyncio

    from skyhaul.adapters.storage import Promoter

    root = DestinationRoot(tmp_path)
    parts = []
    for i in range(5):
        part = PartFile(root.final_path(f"d{i % 2}/f{i}.bin"))
        part.open(truncate=True)
        part.write_at(0, bytes([i]) * 10)
        parts.append(part)
    parts[3].path.unlink()  # its rename must fail alone
    promoter = Promoter()
    results = await asyncio.gather(*(promoter.promote(p) for p in parts), return_exceptions=True)
    assert [r is None for r in results] == [True, True, True, False, True]
    assert isinstance(results[3], DiskError)
    for i in (0, 1, 2, 4):
        assert (tmp_path / f"d{i % 2}" / f"f{i}.bin").read_bytes() == bytes([i]) * 10


def test_atomic_file_replaces_only_on_a_clean_exit(tmp_path: Path) -> None:
    dest = tmp_path / "day.csv"
    dest.write_bytes(b"old")
    (tmp_path / ".day.csv.tmp").write_bytes(b"left by a killed run")
    with pytest.raises(RuntimeError), atomic_file(dest) as out:
        out.write(b"half")
        raise RuntimeError("writer failed")
    assert dest.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.csv"]
    with atomic_file(dest) as out:
        out.write(b"new")
    assert dest.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.csv"]


def test_part_file_that_is_a_symlink_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    final = DestinationRoot(tmp_path / "root").final_path("f.bin")
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep me")
    part = PartFile(final)
    part.path.symlink_to(outside)
    with pytest.raises(PathEscapeError, match="symlink"):
        part.open(truncate=True)
    assert outside.read_bytes() == b"keep me"
    assert not part.is_open


def test_reopening_a_part_file_does_not_leak_its_descriptor(tmp_path: Path) -> None:
    part = PartFile(tmp_path / "f.bin")
    part.open(truncate=True)
    open_before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        part.open(truncate=True)
    assert len(os.listdir("/proc/self/fd")) == open_before
    part.close()


# --- part files never take a destination's name (issue 13, item 1) ------------------------


def _sink(root: Path, path: str) -> LocalSink:
    record = FileRecord(1, "https://a.example/f", path, str(root), FileState.DOWNLOADING)
    return LocalSinks().for_file(record)


async def test_a_part_file_never_takes_another_destination_s_name(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "x.part").write_bytes(b"a verified file named x.part")
    sink = _sink(root, "x")
    sink.open(truncate=True)
    sink.write_many_at(0, [b"the file x"])
    sink.sync()
    await sink.commit()
    assert (root / "x").read_bytes() == b"the file x"
    assert (root / "x.part").read_bytes() == b"a verified file named x.part"


@pytest.mark.parametrize("path", ["x.skyhaul.part", "d.SKYHAUL.PART/x", "a/b.fits.skyhaul.part"])
def test_a_destination_a_part_file_could_have_is_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(PathEscapeError, match="reserved"):
        DestinationRoot(tmp_path).final_path(path)


# --- confinement at the moment of each open and rename (issue 13, item 3) ------------------


async def test_a_directory_swapped_for_a_symlink_mid_run_is_not_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    sinks = LocalSinks()

    def record(path: str) -> FileRecord:
        return FileRecord(1, "https://a.example/f", path, str(root), FileState.DOWNLOADING)

    first = sinks.for_file(record("sub/a.bin"))  # the run has checked sub/ once
    first.open(truncate=True)
    first.write_many_at(0, [b"a"])
    await first.commit()
    (root / "sub").rename(root / "old")
    (root / "sub").symlink_to(outside)
    with pytest.raises(PathEscapeError, match="symlink"):
        second = sinks.for_file(record("sub/b.bin"))
        second.open(truncate=True)
        second.write_many_at(0, [b"b"])
        second.sync()
        await second.commit()
    assert list(outside.iterdir()) == []


async def test_a_directory_swapped_before_the_rename_is_not_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    sink = _sink(root, "sub/b.bin")
    sink.open(truncate=True)
    sink.write_many_at(0, [b"verified bytes"])
    sink.sync()
    (root / "sub").rename(outside / "sub")  # the part file goes with its directory
    (root / "sub").symlink_to(outside / "sub")
    with pytest.raises(PathEscapeError, match="symlink"):
        await sink.commit()
    assert not (outside / "sub" / "b.bin").exists()


@pytest.mark.parametrize("truncate", [False, True])
def test_a_hard_linked_part_file_is_not_written_through(tmp_path: Path, truncate: bool) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep me")
    sink = _sink(tmp_path / "root", "f.bin")
    os.link(outside, sink.path)
    with pytest.raises(PathEscapeError, match="hard link"):
        sink.open(truncate=truncate)
        sink.write_many_at(0, [b"overwritten"])
    assert outside.read_bytes() == b"keep me"


def test_a_part_file_made_before_the_first_write_is_not_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep me")
    sink = _sink(tmp_path / "root", "f.bin")
    sink.open(truncate=True)
    sink.path.symlink_to(outside)  # planted between the open and the first write
    with pytest.raises(SkyhaulError):
        sink.write_many_at(0, [b"overwritten"])
    assert outside.read_bytes() == b"keep me"
    sink.close()
