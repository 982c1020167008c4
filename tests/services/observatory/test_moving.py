"""Moving an object between locations (services.observatory.moving): whole copies are
hashed and checked, wrong bytes never take the final name, an interrupted local copy is
resumed from its durable bytes."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from skyhaul.adapters.locations import location_storage
from skyhaul.errors import ConnectError, IntegrityError
from skyhaul.ports.locations import LocationStorage
from skyhaul.services.observatory.moving import move_object

DATA = bytes(range(256)) * 4096  # 1 MiB


async def _put(location: LocationStorage, path: str, data: bytes) -> None:
    writer = await location.writer(path)
    await writer.write(data)
    await writer.commit()


async def _read(location: LocationStorage, path: str) -> bytes:
    return b"".join([chunk async for chunk in location.open_read(path)])


class _BreaksAfter:
    """A location whose reads fail after ``limit`` bytes (a dropped connection)."""

    def __init__(self, inner: LocationStorage, limit: int) -> None:
        self.inner = inner
        self.limit = limit

    async def _chunks(self, path: str, offset: int) -> AsyncIterator[bytes]:
        sent = 0
        async for chunk in self.inner.open_read(path, offset):
            if sent + len(chunk) > self.limit:
                yield chunk[: self.limit - sent]
                raise ConnectError("connection dropped")
            sent += len(chunk)
            yield chunk

    def open_read(self, path: str, offset: int = 0) -> AsyncIterator[bytes]:
        return self._chunks(path, offset)


@pytest.fixture
def places(tmp_path: Path) -> tuple[LocationStorage, LocationStorage]:
    (tmp_path / "src").mkdir()
    (tmp_path / "dst").mkdir()
    return (
        location_storage((tmp_path / "src").as_uri()),
        location_storage((tmp_path / "dst").as_uri()),
    )


async def test_a_whole_move_is_hashed_and_checked(
    places: tuple[LocationStorage, LocationStorage],
) -> None:
    source, dest = places
    await _put(source, "p/a.tar", DATA)
    expected = hashlib.sha256(DATA).hexdigest()
    moved = await move_object(source, "p/a.tar", dest, "q/a.tar", expected_sha256=expected)
    assert (moved.size, moved.sha256, moved.resumed_from) == (len(DATA), expected, 0)
    assert await _read(dest, "q/a.tar") == DATA


async def test_wrong_bytes_never_take_the_final_name(
    places: tuple[LocationStorage, LocationStorage],
) -> None:
    source, dest = places
    await _put(source, "a.tar", DATA)
    with pytest.raises(IntegrityError):
        await move_object(source, "a.tar", dest, "a.tar", expected_sha256="0" * 64)
    assert await dest.stat("a.tar") is None
    again = await dest.writer("a.tar", resume=True)
    assert again.resume_offset() == 0  # nothing of the wrong bytes kept to resume from
    await again.abort()


async def test_an_interrupted_move_resumes_from_its_durable_bytes(
    places: tuple[LocationStorage, LocationStorage],
) -> None:
    source, dest = places
    await _put(source, "a.tar", DATA)
    broken = _BreaksAfter(source, 300_000)
    with pytest.raises(ConnectError):
        await move_object(broken, "a.tar", dest, "a.tar", sync_every=1)  # type: ignore[arg-type]
    assert await dest.stat("a.tar") is None
    moved = await move_object(source, "a.tar", dest, "a.tar")
    assert moved.resumed_from == 300_000
    assert moved.sha256 is None  # not all bytes passed here: verification reads them
    assert await _read(dest, "a.tar") == DATA


async def test_an_unhashed_move_moves_the_same_bytes(
    places: tuple[LocationStorage, LocationStorage],
) -> None:
    source, dest = places
    await _put(source, "a.tar", DATA)
    moved = await move_object(source, "a.tar", dest, "b.tar", hashed=False)
    assert (moved.size, moved.sha256) == (len(DATA), None)
    assert await _read(dest, "b.tar") == DATA
