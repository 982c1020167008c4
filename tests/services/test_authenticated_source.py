"""A source behind a bearer token: listing and data files both need it; the token is read
from the environment, sent to the archive's origin only, and never shown."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

import skyhaul
from skyhaul.adapters.config import SourceConfig
from skyhaul.adapters.http import HttpSettings, HttpTransport
from skyhaul.adapters.sources import download_credentials

TOKEN = "t0k3n-value"
BODY = b"SIMPLE  =                    T" + b" " * 2850


def _app(seen: list[str | None]) -> web.Application:
    async def guard(request: web.Request) -> None:
        seen.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise web.HTTPUnauthorized()

    async def listing(request: web.Request) -> web.Response:
        await guard(request)
        origin = f"http://{request.host}"
        return web.json_response(
            [
                {
                    "url": f"{origin}/files/a.fits",
                    "path": "raw/a.fits",
                    "size": len(BODY),
                    "checksum": "sha256:" + hashlib.sha256(BODY).hexdigest(),
                    "instrument": "EUI",
                    "obs_start": "2024-03-01T01:00:00Z",
                    "obs_end": "2024-03-01T01:00:10Z",
                    "downlink_time": "2024-03-01T05:00:00Z",
                    "slot": "s1",
                    "etag": '"1"',
                }
            ]
        )

    async def data(request: web.Request) -> web.Response:
        await guard(request)
        return web.Response(body=BODY)

    app = web.Application()
    app.router.add_get("/api/files", listing)
    app.router.add_route("*", "/files/a.fits", data)
    return app


@pytest.fixture
def archive() -> Iterator[tuple[str, list[str | None]]]:
    """The archive on its own thread and loop: the synchronous Client blocks the caller."""
    seen: list[str | None] = []
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(_app(seen))
    ready = threading.Event()
    port: list[int] = []

    async def serve() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sock: socket.socket = site._server.sockets[0]  # type: ignore[union-attr]
        port.append(sock.getsockname()[1])
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop)
    assert ready.wait(10)
    yield f"http://127.0.0.1:{port[0]}", seen
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "skyhaul.toml"
    path.write_text(f'[sources.secure]\ntype = "sim"\nurl = "{url}"\ntoken_env = "SECURE_TOKEN"\n')
    return path


def test_listing_and_files_are_fetched_with_the_token(
    archive: tuple[str, list[str | None]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = archive
    monkeypatch.setenv("SECURE_TOKEN", TOKEN)
    client = skyhaul.Client(catalog=f"sqlite:///{tmp_path / 'c.db'}", config=_config(tmp_path, url))
    try:
        got = client.download_files_by_observation("EUI", "2024-03-01", "2024-03-01")
    finally:
        client.close()
    assert got == 1
    assert (tmp_path / "data" / "secure" / "raw" / "a.fits").read_bytes() == BODY
    assert seen and set(seen) == {f"Bearer {TOKEN}"}
    assert TOKEN not in repr(client.options)


async def test_the_token_goes_to_its_origin_only(
    archive: tuple[str, list[str | None]],
) -> None:
    url, seen = archive
    other = url.replace("127.0.0.1", "localhost")  # same server, another origin
    transport = HttpTransport(HttpSettings(authorization=((url, f"Bearer {TOKEN}"),)))
    try:
        info = await transport.stat(f"{url}/files/a.fits")
        assert info.size == len(BODY)
        with pytest.raises(skyhaul.errors.ClientError, match="401"):
            await transport.stat(f"{other}/files/a.fits")
    finally:
        await transport.close()
    assert seen == [f"Bearer {TOKEN}", None]
    assert TOKEN not in repr(transport.settings)


def test_download_credentials_cover_the_url_and_download_origins(tmp_path: Path) -> None:
    config = SourceConfig(
        name="s",
        type="http-index",
        options={
            "url": "https://Archive.example/pub/{date:%Y}/",
            "token_env": "T",
            "download_origins": ["https://files.example/"],
        },
        dest=tmp_path,
        base_dir=tmp_path,
        where="test",
    )
    pairs = download_credentials(config, environ={"T": "abc"})
    assert pairs == (
        ("https://archive.example", "Bearer abc"),
        ("https://files.example", "Bearer abc"),
    )
    anonymous = SourceConfig(
        name="a", type="sim", options={"url": "http://x"}, dest=tmp_path, base_dir=tmp_path,
        where="test",
    )  # fmt: skip
    assert download_credentials(anonymous, environ={}) == ()
