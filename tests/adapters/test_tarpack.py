"""Tar packages: one pass writes the tar and every checksum; ``tar`` reads what we write;
we read what ``tar`` writes; a flipped byte is caught in its member; escapes refused."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import os
import subprocess
import tarfile
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from skyhaul.adapters.locations import LocalLocation
from skyhaul.adapters.tarpack import (
    TarEntry,
    TarMember,
    read_tar,
    scan_tar,
    tar_size,
    unpack_tar,
    write_tar,
)
from skyhaul.errors import IntegrityError, InvalidSpecError, PathEscapeError

MIB = 1 << 20
LONG = "unit-0001/module-α/" + "deep/" * 30 + "name.dat"  # past ustar's 100 bytes, not ASCII
FILES = {
    "unit-0001/module-a/obs_000.dat": os.urandom(200_000),
    "unit-0001/module-a/sub/obs_001.dat": b"",
    "unit-0001/module-a/sub/obs_002.dat": b"x" * 1023,
    LONG: b"long name\n",
}
MTIME = 1_700_000_000


class Collected:
    """A sink keeping every write (for small tars)."""

    def __init__(self) -> None:
        self.data = bytearray()

    async def write(self, chunk: bytes) -> None:
        self.data += chunk


async def _chunks(data: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at : at + size]


@pytest.fixture
def source(tmp_path: Path) -> LocalLocation:
    for name, data in FILES.items():
        path = tmp_path / "source" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (MTIME, MTIME))
    return LocalLocation(tmp_path / "source", chunk_size=64 * 1024)


async def _members(location: LocalLocation) -> list[TarMember]:
    members = []
    for name in sorted(FILES):
        info = await location.stat(name)
        assert info is not None
        members.append(
            TarMember(name, info.size, info.mtime, functools.partial(location.open_read, name))
        )
    return members


async def _packed(source: LocalLocation) -> tuple[bytes, list[TarEntry], str, int]:
    out = Collected()
    result = await write_tar(await _members(source), out, chunk_size=64 * 1024)
    return bytes(out.data), list(result.members), result.sha256, result.size


def _expected_entries() -> list[TarEntry]:
    return [
        TarEntry(name, len(data), hashlib.sha256(data).hexdigest())
        for name, data in sorted(FILES.items())
    ]


async def test_the_tar_and_member_checksums_are_those_of_the_bytes(
    source: LocalLocation, tmp_path: Path
) -> None:
    tar, entries, sha256, size = await _packed(source)
    assert sha256 == hashlib.sha256(tar).hexdigest()
    assert size == len(tar) == tar_size(await _members(source))
    assert size % 10240 == 0
    assert entries == _expected_entries()
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        infos = archive.getmembers()
        assert [i.name for i in infos] == sorted(FILES)
        for info in infos:
            assert (info.mode, info.uid, info.gid, info.uname, info.gname) == (0o644, 0, 0, "", "")
            assert info.mtime == MTIME
            extracted = archive.extractfile(info)
            assert extracted is not None and extracted.read() == FILES[info.name]
    (tmp_path / "p.tar").write_bytes(tar)
    listed = await asyncio.to_thread(
        subprocess.run,
        ["tar", "-tf", str(tmp_path / "p.tar")],
        capture_output=True,
        check=True,
        text=True,
    )
    assert listed.stdout.splitlines() == sorted(FILES)


async def test_packing_is_deterministic(source: LocalLocation) -> None:
    first, *_ = await _packed(source)
    second, *_ = await _packed(source)
    assert first == second


async def test_a_round_trip_through_locations_unpacks_every_member(
    source: LocalLocation, tmp_path: Path
) -> None:
    buffer = LocalLocation(tmp_path / "buffer")
    writer = await buffer.writer("pkg/unit-0001_module-a_001.tar")
    written = await write_tar(await _members(source), writer)
    await writer.commit()
    read = [e async for e in read_tar(buffer.open_read("pkg/unit-0001_module-a_001.tar"))]
    assert read == list(written.members) == _expected_entries()
    scanned = await scan_tar(buffer.open_read("pkg/unit-0001_module-a_001.tar"))
    assert scanned == written
    archive = LocalLocation(tmp_path / "archive")
    expected = {e.path: e.sha256 for e in written.members}
    unpacked = await unpack_tar(
        buffer.open_read("pkg/unit-0001_module-a_001.tar"), archive, "pkg1", expected=expected
    )
    assert unpacked == written
    for name, data in FILES.items():
        assert (tmp_path / "archive" / "pkg1" / name).read_bytes() == data


async def test_we_read_what_gnu_tar_writes(source: LocalLocation, tmp_path: Path) -> None:
    made = tmp_path / "gnu.tar"
    command = ["tar", "-C", str(source.root), "-cf", str(made), "."]
    await asyncio.to_thread(subprocess.run, command, check=True)
    entries = sorted([e async for e in read_tar(_chunks(made.read_bytes(), 3000))])
    assert entries == _expected_entries()


async def test_a_flipped_byte_is_caught_in_its_member(source: LocalLocation) -> None:
    tar, entries, _, _ = await _packed(source)
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        target = archive.getmember("unit-0001/module-a/obs_000.dat")
    corrupt = bytearray(tar)
    corrupt[target.offset_data + 12345] ^= 0x01
    found = [e async for e in read_tar(_chunks(bytes(corrupt)))]
    bad = [e.path for e, good in zip(found, entries, strict=True) if e != good]
    assert bad == ["unit-0001/module-a/obs_000.dat"]
    assert (await scan_tar(_chunks(bytes(corrupt)))).sha256 != hashlib.sha256(tar).hexdigest()


async def test_a_mismatch_is_never_committed(source: LocalLocation, tmp_path: Path) -> None:
    tar, entries, _, _ = await _packed(source)
    expected = {e.path: e.sha256 for e in entries}
    expected["unit-0001/module-a/sub/obs_002.dat"] = "0" * 64
    archive = LocalLocation(tmp_path / "archive")
    with pytest.raises(IntegrityError, match=r"obs_002\.dat"):
        await unpack_tar(_chunks(tar), archive, expected=expected)
    names = sorted([e.path async for e in archive.walk()])
    assert "unit-0001/module-a/sub/obs_002.dat" not in names
    assert not [p for p in (tmp_path / "archive").rglob("*") if p.name.endswith(".part")]


async def test_a_corrupt_header_or_a_cut_tar_is_an_integrity_error(
    source: LocalLocation,
) -> None:
    tar, *_ = await _packed(source)
    corrupt = bytearray(tar)
    corrupt[10] ^= 0x20  # inside the first member's name: its header checksum fails
    with pytest.raises(IntegrityError, match="bad tar header"):
        [e async for e in read_tar(_chunks(bytes(corrupt)))]
    with pytest.raises(IntegrityError, match="truncated"):
        [e async for e in read_tar(_chunks(tar[:150_000]))]
    with pytest.raises(IntegrityError, match="after the end"):
        [e async for e in read_tar(_chunks(tar + b"junk"))]


def _tar_of(*infos: tuple[tarfile.TarInfo, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in infos:
            info.size = len(data) if info.isfile() else 0
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize(
    "member",
    [
        (tarfile.TarInfo("../escape"), b"x"),
        (tarfile.TarInfo("a/../../escape"), b"x"),
        (tarfile.TarInfo("/etc/cron.d/evil"), b"x"),
        (_link("innocent", "/etc/passwd"), b""),
        (_link("rel", "../../x"), b""),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink", "relative-link"],
)
async def test_members_that_escape_are_refused(
    member: tuple[tarfile.TarInfo, bytes], tmp_path: Path
) -> None:
    tar = _tar_of((tarfile.TarInfo("fine"), b"ok"), member)
    with pytest.raises(PathEscapeError):
        [e async for e in read_tar(_chunks(tar))]
    with pytest.raises(PathEscapeError):
        await unpack_tar(_chunks(tar), LocalLocation(tmp_path / "into"))
    assert not (tmp_path / "escape").exists()


async def test_names_that_escape_or_repeat_are_refused_when_packing() -> None:
    def member(name: str) -> TarMember:
        return TarMember(name, 1, 0, lambda: _chunks(b"x"))

    for name in ("../x", "/abs", "a/./b", ""):
        with pytest.raises(PathEscapeError):
            await write_tar([member(name)], Collected())
    with pytest.raises(InvalidSpecError, match="twice"):
        await write_tar([member("a"), member("a")], Collected())


async def test_a_source_that_changes_size_is_an_integrity_error() -> None:
    grew = TarMember("grew", 3, 0, lambda: _chunks(b"four"))
    shrank = TarMember("shrank", 5, 0, lambda: _chunks(b"four"))
    with pytest.raises(IntegrityError, match="grew"):
        await write_tar([grew], Collected())
    with pytest.raises(IntegrityError, match="shrank"):
        await write_tar([shrank], Collected())


class Hashing:
    """A sink keeping nothing but a hash and the largest write it saw."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.largest = 0

    async def write(self, chunk: bytes) -> None:
        self.hash.update(chunk)
        self.largest = max(self.largest, len(chunk))


async def test_memory_stays_bounded_for_a_member_larger_than_any_buffer() -> None:
    piece = os.urandom(64 * 1024)
    count = 48  # 3 MiB, twelve times the 256 KiB gathering buffer

    async def generated() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield piece

    expected = hashlib.sha256()
    for _ in range(count):
        expected.update(piece)
    sink = Hashing()
    tracemalloc.start()
    try:
        result = await write_tar(
            [TarMember("big", count * len(piece), 0, generated)], sink, chunk_size=256 * 1024
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.members[0].sha256 == expected.hexdigest()
    assert result.sha256 == sink.hash.hexdigest()
    assert sink.largest <= 256 * 1024 + len(piece)
    assert peak < 1 * MIB  # the member is 3 MiB; only a gathering buffer is ever held
