"""Loopback servers for the HTTP client's tests: plain and TLS archives that record every
request, and ``serve`` for any app (the fixtures that start them are in conftest)."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

DATA = b"SIMPLE  =                    T / conforms to FITS standard" * 60  # ASCII: a page too


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    authorization: str | None
    user_agent: str | None
    accept_encoding: str | None


@dataclass
class Archive:
    """A loopback server that records every request.

    Routes: ``/data`` (the bytes of ``DATA``), ``/redirect?to=URL&status=302``,
    ``/loop`` (redirects to itself), ``/silent`` (never answers), ``/gzip`` (``DATA``
    gzip-compressed, whatever the request asked), ``/endless`` (a JSON list that never
    ends, without Content-Length), ``/huge`` (announces a TiB, sends a little, then
    waits).
    """

    url: str = ""
    seen: list[Seen] = field(default_factory=list)

    def authorizations(self) -> list[tuple[str, str | None]]:
        return [(s.path, s.authorization) for s in self.seen]

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/data", self._data)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/loop", self._loop)
        app.router.add_get("/silent", self._silent)
        app.router.add_get("/gzip", self._gzip)
        app.router.add_get("/endless", self._endless)
        app.router.add_get("/huge", self._huge)
        return app

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        headers = request.headers
        self.seen.append(
            Seen(
                request.path_qs,
                headers.get("Authorization"),
                headers.get("User-Agent"),
                headers.get("Accept-Encoding"),
            )
        )
        return await handler(request)

    async def _data(self, request: web.Request) -> web.Response:
        return web.Response(body=DATA, content_type="application/octet-stream")

    async def _redirect(self, request: web.Request) -> web.Response:
        status = int(request.query.get("status", "302"))
        return web.Response(status=status, headers={"Location": request.query["to"]})

    async def _loop(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/loop"})

    async def _silent(self, request: web.Request) -> web.Response:
        await asyncio.Event().wait()  # never answers: the client's timeout must end it
        raise AssertionError("unreachable")

    async def _gzip(self, request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(DATA), headers={"Content-Encoding": "gzip"})

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        return await endless_json(request)

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(1 << 40)})
        await response.prepare(request)
        await response.write(DATA)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


StartArchive = Callable[..., Awaitable[Archive]]


async def endless_json(
    request: web.Request,
    opening: bytes = b"[",
    item: bytes = b'{"obTime": "2024-01-01T00:00:00Z", "value": 1},',
) -> web.StreamResponse:
    """Answer a JSON list that never ends, without Content-Length, until the client leaves."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(opening)
    items = item * 100
    while True:  # until the client gives up: writing then fails
        await response.write(items)


async def serve(
    app: web.Application, tls: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on 127.0.0.1 (a free port); return its runner, to clean up, and base URL."""
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"{'https' if tls else 'http'}://127.0.0.1:{port}"
