"""One suite every storage location passes (local directory and S3 on moto), as rclone's
fstests: write, commit, stat, read from an offset, walk, delete, abort, escapes refused."""

from __future__ import annotations

import hashlib

import pytest

from skyhaul.errors import ClientError, PathEscapeError
from skyhaul.ports.locations import LocationStorage

MIB = 1 << 20
ESCAPES = ["../outside", "/etc/passwd", "a/../../outside", "a/b/../../../outside", ""]


async def _read(location: LocationStorage, path: str, offset: int = 0) -> bytes:
    return b"".join([chunk async for chunk in location.open_read(path, offset)])


async def _put(location: LocationStorage, path: str, *chunks: bytes) -> None:
    writer = await location.writer(path)
    for chunk in chunks:
        await writer.write(chunk)
    await writer.commit()


async def _walk(location: LocationStorage, prefix: str = "") -> list[tuple[str, int]]:
    return sorted([(entry.path, entry.size) async for entry in location.walk(prefix)])


async def test_an_object_appears_only_when_committed(location: LocationStorage) -> None:
    writer = await location.writer("unit1/mod/a.dat")
    await writer.write(b"hello ")
    await writer.write(b"world")
    assert writer.size == 11
    assert writer.path == "unit1/mod/a.dat"
    assert await location.stat("unit1/mod/a.dat") is None
    assert await _walk(location) == []
    info = await writer.commit()
    assert info.size == 11
    assert info == await writer.commit()  # idempotent
    stat = await location.stat("unit1/mod/a.dat")
    assert stat is not None and stat.size == 11 and stat.mtime > 0
    assert await _read(location, "unit1/mod/a.dat") == b"hello world"
    assert await _walk(location) == [("unit1/mod/a.dat", 11)]


async def test_reads_from_an_offset_to_the_end(location: LocationStorage) -> None:
    data = bytes(range(256)) * 5000  # 1.28 MB: more than one chunk of the local reader
    await _put(location, "big.bin", data[:700_000], data[700_000:])
    assert hashlib.sha256(await _read(location, "big.bin")).digest() == (
        hashlib.sha256(data).digest()
    )
    assert await _read(location, "big.bin", 1_000_001) == data[1_000_001:]
    assert await _read(location, "big.bin", len(data)) == b""
    with pytest.raises(ClientError) as past:
        await _read(location, "big.bin", len(data) + 1)
    assert past.value.status == 416


async def test_a_missing_object_is_none_to_stat_and_404_to_read(
    location: LocationStorage,
) -> None:
    assert await location.stat("nothing/here") is None
    with pytest.raises(ClientError) as missing:
        await _read(location, "nothing/here")
    assert missing.value.status == 404


async def test_an_empty_object_can_be_committed(location: LocationStorage) -> None:
    await _put(location, "empty")
    stat = await location.stat("empty")
    assert stat is not None and stat.size == 0
    assert await _read(location, "empty") == b""


async def test_a_commit_replaces_the_object_whole(location: LocationStorage) -> None:
    await _put(location, "x/y", b"old content, longer")
    await _put(location, "x/y", b"new")
    assert await _read(location, "x/y") == b"new"


async def test_walk_lists_a_directory_by_whole_path_components(
    location: LocationStorage,
) -> None:
    for path in ("a/1", "a/b/2", "ab/3", "c"):
        await _put(location, path, path.encode())
    assert await _walk(location) == [("a/1", 3), ("a/b/2", 5), ("ab/3", 4), ("c", 1)]
    assert await _walk(location, "a") == [("a/1", 3), ("a/b/2", 5)]
    assert await _walk(location, "a/b/") == [("a/b/2", 5)]
    assert await _walk(location, "nothing") == []


async def test_delete_removes_and_a_missing_one_is_no_error(location: LocationStorage) -> None:
    await _put(location, "d/gone", b"bytes")
    await _put(location, "d/kept", b"bytes")
    await location.delete("d/gone")
    await location.delete("d/gone")
    await location.delete("never/was")
    assert await location.stat("d/gone") is None
    assert await _walk(location) == [("d/kept", 5)]


async def test_abort_leaves_nothing(location: LocationStorage) -> None:
    writer = await location.writer("p/aborted")
    await writer.write(b"x" * 100_000)
    await writer.abort()
    await writer.abort()  # idempotent
    assert await location.stat("p/aborted") is None
    assert await _walk(location) == []
    with pytest.raises(RuntimeError):
        await writer.write(b"more")


@pytest.mark.parametrize("path", ESCAPES)
async def test_paths_leaving_the_root_are_refused(location: LocationStorage, path: str) -> None:
    with pytest.raises(PathEscapeError):
        await location.writer(path)
    with pytest.raises(PathEscapeError):
        await location.stat(path)
    with pytest.raises(PathEscapeError):
        await _read(location, path)
    with pytest.raises(PathEscapeError):
        await location.delete(path)


async def test_suspend_keeps_nothing_visible_and_a_resume_goes_on_where_it_can(
    location: LocationStorage,
) -> None:
    part = 5 * MIB  # the S3 location's part size here (conftest)
    writer = await location.writer("s/a.bin")
    await writer.write(b"x" * part)
    await writer.write(b"x" * 1000)
    await writer.sync()
    await writer.suspend()
    await writer.suspend()  # idempotent
    assert await location.stat("s/a.bin") is None
    assert await _walk(location) == []
    again = await location.writer("s/a.bin", resume=True)
    kept = again.resume_offset()
    # A local part file keeps every synced byte; S3 keeps the uploaded part, not the 1000
    # bytes buffered below a part.
    assert kept == (part + 1000 if location.url.startswith("file:") else part)
    assert again.size == kept
    await again.write(b"y" * (part + 1500 - kept))
    await again.commit()
    data = await _read(location, "s/a.bin")
    assert len(data) == part + 1500
    assert data[:part] == b"x" * part and data[kept:] == b"y" * (part + 1500 - kept)
