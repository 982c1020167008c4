"""What only a local location does: resuming a killed writer's part file, and symlinks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from skyhaul.adapters.locations import LocalLocation
from skyhaul.core.paths import part_name
from skyhaul.errors import PathEscapeError

KILLED_WRITER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from skyhaul.adapters.locations import LocalLocation

    async def main():
        writer = await LocalLocation(sys.argv[1]).writer("unit/mod/pkg.tar")
        await writer.write(b"a" * 300_000)
        await writer.write(b"b" * 5)
        await writer.sync()
        os.kill(os.getpid(), signal.SIGKILL)  # no commit, no abort, no cleanup

    asyncio.run(main())
    """
)


def test_a_killed_writer_is_resumed_from_its_durable_bytes(tmp_path: Path) -> None:
    root = tmp_path / "loc"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(root)], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    location = LocalLocation(root)

    async def resume() -> tuple[int, bytes]:
        assert await location.stat("unit/mod/pkg.tar") is None  # never committed
        writer = await location.writer("unit/mod/pkg.tar", resume=True)
        offset = writer.resume_offset()
        assert writer.size == offset
        await writer.write(b"c" * 7)
        await writer.commit()
        return offset, b"".join([c async for c in location.open_read("unit/mod/pkg.tar")])

    offset, data = asyncio.run(resume())
    assert offset == 300_005
    assert data == b"a" * 300_000 + b"b" * 5 + b"c" * 7
    assert not (root / "unit/mod" / part_name("pkg.tar")).exists()


async def test_a_writer_not_resuming_drops_what_a_dead_one_left(tmp_path: Path) -> None:
    location = LocalLocation(tmp_path)
    dead = await location.writer("f")
    await dead.write(b"left behind")
    fresh = await location.writer("f")
    assert fresh.resume_offset() == 0
    await fresh.write(b"new")
    await fresh.commit()
    assert (tmp_path / "f").read_bytes() == b"new"


async def test_symlinks_out_of_the_root_are_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    (root / "door").symlink_to(outside)
    (root / "file-link").symlink_to(outside / "secret")
    location = LocalLocation(root)
    with pytest.raises(PathEscapeError):
        await location.writer("door/x")
    with pytest.raises(PathEscapeError):
        await location.stat("door/secret")
    with pytest.raises(PathEscapeError):
        [c async for c in location.open_read("file-link")]
    with pytest.raises(PathEscapeError):
        await location.writer("file-link")
    assert [e async for e in location.walk()] == []  # links are not objects
    assert (outside / "secret").read_bytes() == b"not yours"


async def test_walk_leaves_out_part_files(tmp_path: Path) -> None:
    location = LocalLocation(tmp_path)
    writer = await location.writer("a/in-progress")
    await writer.write(b"partial")
    (tmp_path / "a" / "done").write_bytes(b"12")
    assert [tuple(e) async for e in location.walk()] == [("a/done", 2)]
    with pytest.raises(PathEscapeError):  # a part file's name is no object's
        await location.stat("a/" + part_name("in-progress"))


async def test_reading_creates_no_directories(tmp_path: Path) -> None:
    location = LocalLocation(tmp_path / "not-yet")
    assert await location.stat("x/y") is None
    assert [e async for e in location.walk()] == []
    assert not (tmp_path / "not-yet").exists()
