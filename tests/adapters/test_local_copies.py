"""Reading stored copies back and making new ones, on a real file system."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from skyhaul.adapters.local_copies import HASH_BLOCK, LocalCopies
from skyhaul.core.copies import CopyTask, Found, StoredCopy
from skyhaul.errors import InterruptedRun

DATA = b"0123456789" * (HASH_BLOCK // 5)  # two blocks and then some


def _stored(tmp_path: Path, path: str = "d/f.bin", data: bytes = DATA) -> StoredCopy:
    final = tmp_path / "a" / path
    final.parent.mkdir(parents=True, exist_ok=True)
    final.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    return StoredCopy(1, str(tmp_path / "a"), path, len(data), digest)


def test_a_stored_copy_is_measured_cheaply_or_hashed(tmp_path: Path) -> None:
    stored = _stored(tmp_path)
    disk = LocalCopies()
    assert disk.measure(stored, thorough=False) == Found(len(DATA))
    assert disk.measure(stored, thorough=True) == Found(len(DATA), stored.sha256)


@pytest.mark.parametrize("what", ["deleted", "directory gone", "root gone", "symlink", "fifo"])
def test_nothing_plain_where_a_copy_should_be_is_no_copy(tmp_path: Path, what: str) -> None:
    stored = _stored(tmp_path)
    final = Path(stored.dest_root, stored.path)
    final.unlink()
    if what == "directory gone":
        final.parent.rmdir()
    elif what == "root gone":
        final.parent.rmdir()
        final.parent.parent.rmdir()
    elif what == "symlink":
        (tmp_path / "elsewhere").write_bytes(DATA)
        final.symlink_to(tmp_path / "elsewhere")
    elif what == "fifo":
        os.mkfifo(final)  # must not hang the check
    for thorough in (False, True):
        assert LocalCopies().measure(stored, thorough=thorough) == Found(None)
    if what == "root gone":
        assert not Path(stored.dest_root).exists()  # a check creates nothing


def test_a_directory_swapped_for_a_symlink_is_no_copy(tmp_path: Path) -> None:
    stored = _stored(tmp_path)
    outside = tmp_path / "outside"
    (tmp_path / "a" / "d").rename(outside)
    (tmp_path / "a" / "d").symlink_to(outside)
    assert LocalCopies().measure(stored, thorough=True) == Found(None)


def test_a_copy_is_hashed_while_written_and_appears_only_when_promoted(tmp_path: Path) -> None:
    stored = _stored(tmp_path)
    task = CopyTask(7, str(tmp_path / "b"), "x/f.bin", stored, "https://a.example/f")
    pending = LocalCopies().start_copy(task)
    assert pending.found == Found(len(DATA), stored.sha256)
    final = tmp_path / "b" / "x" / "f.bin"
    assert not final.exists()
    pending.promote()
    assert final.read_bytes() == DATA
    assert [p.name for p in final.parent.iterdir()] == ["f.bin"]


def test_a_copy_discarded_leaves_nothing(tmp_path: Path) -> None:
    stored = _stored(tmp_path, data=b"")
    task = CopyTask(7, str(tmp_path / "b"), "f.bin", stored, "https://a.example/f")
    pending = LocalCopies().start_copy(task)
    assert pending.found == Found(0, hashlib.sha256(b"").hexdigest())
    pending.discard()
    assert list((tmp_path / "b").iterdir()) == []


def test_a_copy_stopped_midway_leaves_nothing(tmp_path: Path) -> None:
    stored = _stored(tmp_path)
    task = CopyTask(7, str(tmp_path / "b"), "f.bin", stored, "https://a.example/f")
    asked = iter([False, True])
    with pytest.raises(InterruptedRun):
        LocalCopies().start_copy(task, stop=lambda: next(asked))
    assert list((tmp_path / "b").iterdir()) == []


def test_copying_from_nothing_writes_nothing(tmp_path: Path) -> None:
    stored = StoredCopy(1, str(tmp_path / "a"), "gone.bin", 3, "00" * 32)
    task = CopyTask(7, str(tmp_path / "b"), "f.bin", stored, "https://a.example/f")
    pending = LocalCopies().start_copy(task)
    assert pending.found == Found(None)
    pending.discard()
    assert not (tmp_path / "b").exists()
