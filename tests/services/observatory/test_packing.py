"""A package's bytes (services.observatory.packing): built in one pass from its members,
checked against the catalog's checksums, verified whole at its destination, with a sidecar."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from skyhaul.adapters.locations import location_storage
from skyhaul.errors import IntegrityError
from skyhaul.ports.locations import LocationStorage
from skyhaul.services.observatory.packing import (
    MemberSource,
    build_package,
    sidecar_path,
    verify_package,
    write_sidecar,
)

FILES = {"u1/m1/a.dat": b"a" * 70_000, "u1/m1/sub/b.dat": b"b" * 1234, "u1/m1/c.dat": b""}


def _members(files: dict[str, bytes]) -> list[MemberSource]:
    return [
        MemberSource(path, len(data), hashlib.sha256(data).hexdigest(), 1_700_000_000.0)
        for path, data in files.items()
    ]


@pytest.fixture
def source(tmp_path: Path) -> LocationStorage:
    for path, data in FILES.items():
        (tmp_path / "src" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / path).write_bytes(data)
    (tmp_path / "out").mkdir()
    return location_storage((tmp_path / "src").as_uri())


async def test_a_package_holds_its_members_with_their_checksums(
    source: LocationStorage, tmp_path: Path
) -> None:
    out = location_storage((tmp_path / "out").as_uri())
    result = await build_package(source, _members(FILES), out, "pkg/u1_m1_001.tar")
    tar = tmp_path / "out" / "pkg" / "u1_m1_001.tar"
    assert result.sha256 == hashlib.sha256(tar.read_bytes()).hexdigest()
    with tarfile.open(tar) as opened:
        assert {m.name: opened.extractfile(m).read() for m in opened.getmembers()} == FILES  # type: ignore[union-attr]
    expected = {m.path: m.sha256 for m in _members(FILES)}
    checked = await verify_package(out, "pkg/u1_m1_001.tar", sha256=result.sha256, members=expected)
    assert checked == result


async def test_a_member_changed_since_registration_fails_the_package(
    source: LocationStorage, tmp_path: Path
) -> None:
    out = location_storage((tmp_path / "out").as_uri())
    members = _members(FILES)
    (tmp_path / "src" / "u1/m1/a.dat").write_bytes(b"A" * 70_000)  # same size, other bytes
    with pytest.raises(IntegrityError, match="differ from the catalog"):
        await build_package(source, members, out, "p.tar")
    assert await out.stat("p.tar") is None


async def test_a_flipped_byte_at_the_destination_is_caught(
    source: LocationStorage, tmp_path: Path
) -> None:
    out = location_storage((tmp_path / "out").as_uri())
    result = await build_package(source, _members(FILES), out, "p.tar")
    tar = tmp_path / "out" / "p.tar"
    data = bytearray(tar.read_bytes())
    data[1024 + 10] ^= 0xFF  # inside the first member's data
    tar.write_bytes(bytes(data))
    expected = {m.path: m.sha256 for m in _members(FILES)}
    with pytest.raises(IntegrityError):
        await verify_package(out, "p.tar", sha256=result.sha256, members=expected)


async def test_the_sidecar_sits_beside_the_tar(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    out = location_storage((tmp_path / "out").as_uri())
    await write_sidecar(out, "a/p.tar", {"package": "p.tar", "members": []})
    written = tmp_path / "out" / sidecar_path("a/p.tar")
    assert json.loads(written.read_text()) == {"members": [], "package": "p.tar"}
