"""One contract for every transport (``skyhaul.ports.transport``), run against each one:
HttpTransport on the HTTP simulator, S3Transport on the simulator's S3, same files.

A new transport is proven by adding a backend to ``BACKENDS``. The one documented
difference: a stale validator with a range restarts the transfer either way, HTTP by
answering the whole file (``If-Range``), S3 by refusing (``If-Match``, 412).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from skyhaul.adapters.http import HttpTransport
from skyhaul.adapters.s3 import S3Transport
from skyhaul.adapters.s3_access import S3Access
from skyhaul.core.ranges import ByteRange, ContentRange
from skyhaul.errors import ClientError, RemoteChangedError
from skyhaul.ports.transport import Transport
from skyhaul.sim.s3_thread import S3SimThread
from skyhaul.sim.thread import SimThread

from .conftest import CHANGED_INDEX

STALE = '"0123456789abcdef0123456789abcdef"'


@dataclass(frozen=True)
class Backend:
    """A transport and where the simulator's files are on it."""

    transport: Transport
    url_for: Callable[[str], str]
    #: What a stale validator with a range gives: "whole" answer, or "refused".
    stale_range: str


@dataclass(frozen=True)
class File:
    path: str
    disk_path: Path

    @property
    def data(self) -> bytes:
        return self.disk_path.read_bytes()


@pytest.fixture
def file(http_sim: SimThread) -> File:
    listed = next(
        f for f in http_sim.files if f.size == 64 * 1024 and f.version.file.index != CHANGED_INDEX
    )
    return File(listed.path, listed.version.disk_path)


def _http(http_sim: SimThread, s3_sim: S3SimThread) -> Backend:
    return Backend(HttpTransport(), http_sim.url_for, stale_range="whole")


def _s3(http_sim: SimThread, s3_sim: S3SimThread) -> Backend:
    transport = S3Transport(access=S3Access(endpoint=s3_sim.endpoint))
    return Backend(transport, s3_sim.url_for, stale_range="refused")


BACKENDS = {"http": _http, "s3": _s3}


@pytest.fixture(params=sorted(BACKENDS))
async def backend(
    request: pytest.FixtureRequest, http_sim: SimThread, s3_sim: S3SimThread
) -> AsyncIterator[Backend]:
    made = BACKENDS[request.param](http_sim, s3_sim)
    yield made
    await made.transport.close()


async def _read(body_source: Transport, url: str, r: ByteRange | None = None) -> bytes:
    async with body_source.open(url, r) as body:
        return b"".join([chunk async for chunk in body.chunks()])


async def test_stat_gives_the_size_and_a_validator_that_open_agrees_with(
    backend: Backend, file: File
) -> None:
    info = await backend.transport.stat(backend.url_for(file.path))
    assert info.size == len(file.data)
    assert info.validator is not None
    assert info.accepts_ranges
    async with backend.transport.open(backend.url_for(file.path)) as body:
        assert body.info.validator == info.validator
        assert body.info.size == info.size


async def test_a_whole_read_gives_every_byte(backend: Backend, file: File) -> None:
    async with backend.transport.open(backend.url_for(file.path)) as body:
        assert not body.partial
        assert body.content_range is None
        data = b"".join([chunk async for chunk in body.chunks()])
    assert data == file.data


@pytest.mark.parametrize(("start", "end"), [(0, 1), (1000, 5000), (60000, 65536)])
async def test_a_range_read_gives_those_bytes_and_their_content_range(
    backend: Backend, file: File, start: int, end: int
) -> None:
    async with backend.transport.open(backend.url_for(file.path), ByteRange(start, end)) as body:
        assert body.partial
        assert body.content_range == ContentRange(start, end, len(file.data))
        data = b"".join([chunk async for chunk in body.chunks()])
    assert data == file.data[start:end]


async def test_a_current_validator_keeps_the_range(backend: Backend, file: File) -> None:
    url = backend.url_for(file.path)
    validator = (await backend.transport.stat(url)).validator
    async with backend.transport.open(url, ByteRange(10, 20), if_range=validator) as body:
        assert body.partial
        assert b"".join([chunk async for chunk in body.chunks()]) == file.data[10:20]


async def test_a_stale_validator_restarts_the_transfer(backend: Backend, file: File) -> None:
    url = backend.url_for(file.path)
    if backend.stale_range == "whole":
        async with backend.transport.open(url, ByteRange(10, 20), if_range=STALE) as body:
            assert not body.partial
            assert b"".join([chunk async for chunk in body.chunks()]) == file.data
    else:
        with pytest.raises(RemoteChangedError):
            async with backend.transport.open(url, ByteRange(10, 20), if_range=STALE):
                pass


async def test_a_missing_file_is_a_404_client_error(backend: Backend) -> None:
    url = backend.url_for("raw/NONE/20240101/missing.bin")
    with pytest.raises(ClientError) as on_stat:
        await backend.transport.stat(url)
    with pytest.raises(ClientError) as on_open:
        await _read(backend.transport, url)
    assert on_stat.value.status == on_open.value.status == 404


async def test_close_is_idempotent(backend: Backend, file: File) -> None:
    await backend.transport.stat(backend.url_for(file.path))
    await backend.transport.close()
    await backend.transport.close()
