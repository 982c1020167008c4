from __future__ import annotations

import hashlib
from pathlib import Path

from skyhaul.sim import ArchiveCache, ArchiveSpec, build_archive, profile


def test_materialise_writes_every_file_once_and_reuses_them(tmp_path: Path) -> None:
    archive = build_archive(ArchiveSpec.exact(6, 3000, kind="blob", seed=5))
    cache = ArchiveCache(tmp_path, archive)
    versions = cache.materialise()
    assert sorted(versions) == sorted(f.path for f in archive.files)
    for version in versions.values():
        content = version.disk_path.read_bytes()
        assert len(content) == version.size == 3000
        assert hashlib.sha256(content).hexdigest() == version.sha256
    stamps = {p: v.disk_path.stat().st_mtime_ns for p, v in versions.items()}

    again = ArchiveCache(tmp_path, archive).materialise()
    assert again == versions
    assert {p: v.disk_path.stat().st_mtime_ns for p, v in again.items()} == stamps
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_missing_or_truncated_file_is_written_again(tmp_path: Path) -> None:
    archive = build_archive(ArchiveSpec.exact(3, 5000, kind="blob"))
    versions = ArchiveCache(tmp_path, archive).materialise()
    first, second, _ = (versions[f.path] for f in archive.files)
    first.disk_path.unlink()
    second.disk_path.write_bytes(b"short")
    repaired = ArchiveCache(tmp_path, archive).materialise()
    assert repaired == versions
    for version in (first, second):
        assert hashlib.sha256(version.disk_path.read_bytes()).hexdigest() == version.sha256


def test_specs_do_not_share_directories(tmp_path: Path) -> None:
    one = ArchiveCache(tmp_path, build_archive(profile("small", seed=1)))
    two = ArchiveCache(tmp_path, build_archive(profile("small", seed=2)))
    assert one.directory != two.directory


def test_later_generations_live_apart(tmp_path: Path) -> None:
    archive = build_archive(profile("small"))
    cache = ArchiveCache(tmp_path, archive)
    base = cache.materialise()[archive.files[0].path]
    newer = cache.materialise_version(archive.files[0], 1)
    assert newer.disk_path != base.disk_path
    assert newer.sha256 != base.sha256
    assert newer.etag != base.etag
    assert newer.last_modified > base.last_modified
    assert base.disk_path.exists()
