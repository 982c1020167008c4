"""The HTTP transport against a real aiohttp server on loopback: status mapping,
validators, ranges, redirects and network faults all come out as skyhaul errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from tests.adapters.http.loopback import serve

from skyhaul.adapters.http import (
    LONGEST_RETRY_AFTER,
    HttpSettings,
    HttpTransport,
    parse_retry_after,
)
from skyhaul.core.ranges import ByteRange
from skyhaul.errors import (
    ClientError,
    ConnectError,
    IntegrityError,
    NameResolutionError,
    ReadTimeoutError,
    RemoteChangedError,
    ServerError,
    ThrottledError,
)

BODY = bytes(range(256)) * 40


async def _file(request: web.Request) -> web.StreamResponse:
    digest = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    headers = {
        "ETag": '"v1"',
        "Accept-Ranges": "bytes",
        "Repr-Digest": f"sha-256=:{digest}:",
    }
    range_header = request.headers.get("Range")
    if range_header:
        start, _, end = range_header.removeprefix("bytes=").partition("-")
        first, last = int(start), int(end) if end else len(BODY) - 1
        if first >= len(BODY):
            return web.Response(status=416, headers={"Content-Range": f"bytes */{len(BODY)}"})
        headers["Content-Range"] = f"bytes {first}-{last}/{len(BODY)}"
        return web.Response(status=206, body=BODY[first : last + 1], headers=headers)
    return web.Response(body=BODY, headers=headers)


async def _moved(request: web.Request) -> web.Response:
    raise web.HTTPFound("/file")


async def _status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    headers = {}
    if "after" in request.query:
        headers["Retry-After"] = request.query["after"]
    return web.Response(status=code, headers=headers)


async def _truncated(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": "1000"})
    await response.prepare(request)
    await response.write(b"x" * 100)
    assert request.transport is not None
    request.transport.close()
    return response


async def _stall(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": "1000"})
    await response.prepare(request)
    await response.write(b"x" * 10)
    await asyncio.Event().wait()  # never sends the rest; the client's read timeout fires
    return response


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/file", _file)
    app.router.add_get("/moved", _moved)
    app.router.add_get("/status/{code}", _status)
    app.router.add_get("/truncated", _truncated)
    app.router.add_get("/stall", _stall)
    runner, url = await serve(app)
    yield url
    await runner.cleanup()


async def _read(transport: HttpTransport, url: str, r: ByteRange | None = None) -> bytes:
    async with transport.open(url, r) as body:
        return b"".join([chunk async for chunk in body.chunks()])


async def test_whole_body_and_validators(server: str) -> None:
    transport = HttpTransport()
    try:
        async with transport.open(f"{server}/file") as body:
            assert not body.partial
            assert body.info.size == len(BODY)
            assert body.info.validator == '"v1"'
            assert body.info.accepts_ranges
            assert body.info.digest is not None
            assert body.info.digest.hexdigest == hashlib.sha256(BODY).hexdigest()
            data = b"".join([c async for c in body.chunks()])
        assert data == BODY
    finally:
        await transport.close()


async def test_stat_reports_size_and_validators_without_the_body(server: str) -> None:
    transport = HttpTransport()
    try:
        info = await transport.stat(f"{server}/file")
        assert info.size == len(BODY)
        assert info.validator == '"v1"'
        assert info.accepts_ranges
        with pytest.raises(ClientError):
            await transport.stat(f"{server}/status/404")
    finally:
        await transport.close()


async def test_range_answer_reports_content_range(server: str) -> None:
    transport = HttpTransport()
    try:
        async with transport.open(f"{server}/file", ByteRange(100, 200), '"v1"') as body:
            assert body.partial
            assert body.content_range is not None
            assert (body.content_range.start, body.content_range.end) == (100, 200)
            assert body.content_range.total == len(BODY)
            assert b"".join([c async for c in body.chunks()]) == BODY[100:200]
    finally:
        await transport.close()


async def test_a_range_and_a_stat_follow_a_redirect(server: str) -> None:
    transport = HttpTransport()
    try:
        assert (await transport.stat(f"{server}/moved")).size == len(BODY)
        async with transport.open(f"{server}/moved", ByteRange(100, 200), '"v1"') as body:
            assert body.partial
            assert b"".join([c async for c in body.chunks()]) == BODY[100:200]
    finally:
        await transport.close()


async def test_unsatisfiable_range_means_remote_changed(server: str) -> None:
    transport = HttpTransport()
    try:
        with pytest.raises(RemoteChangedError, match="not satisfiable"):
            await _read(transport, f"{server}/file", ByteRange(len(BODY) + 10, len(BODY) + 20))
    finally:
        await transport.close()


@pytest.mark.parametrize(
    ("path", "error", "retry_after"),
    [
        ("/status/429?after=2", ThrottledError, 2.0),
        ("/status/429", ThrottledError, None),
        ("/status/503?after=7", ThrottledError, 7.0),
        ("/status/503", ServerError, None),
        ("/status/500", ServerError, None),
        ("/status/408", ServerError, None),
        ("/status/404", ClientError, None),
        ("/status/403", ClientError, None),
        ("/status/410", ClientError, None),
    ],
)
async def test_status_codes_map_to_error_classes(
    server: str, path: str, error: type[Exception], retry_after: float | None
) -> None:
    transport = HttpTransport()
    try:
        with pytest.raises(error) as caught:
            await _read(transport, f"{server}{path}")
        assert getattr(caught.value, "retry_after", None) == retry_after
        assert str(caught.value).startswith("HTTP ")
    finally:
        await transport.close()


async def test_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = HttpTransport(HttpSettings(connect_timeout=2))
    try:
        with pytest.raises(ConnectError, match="cannot connect"):
            await _read(transport, f"http://127.0.0.1:{port}/x")
    finally:
        await transport.close()


async def test_body_cut_short_is_a_connect_error(server: str) -> None:
    transport = HttpTransport()
    try:
        with pytest.raises(ConnectError):
            await _read(transport, f"{server}/truncated")
    finally:
        await transport.close()


async def test_silent_server_hits_the_read_timeout(server: str) -> None:
    transport = HttpTransport(HttpSettings(read_timeout=0.3))
    try:
        with pytest.raises(ReadTimeoutError, match="timed out"):
            await _read(transport, f"{server}/stall")
    finally:
        await transport.close()


async def test_signed_url_secrets_never_appear_in_errors(server: str) -> None:
    transport = HttpTransport()
    try:
        with pytest.raises(ClientError) as caught:
            await _read(transport, f"{server}/status/403?X-Amz-Signature=SECRET123&after=1")
        assert "SECRET123" not in str(caught.value)
    finally:
        await transport.close()


@pytest.mark.parametrize("value", ["1000000000000", "9" * 400, "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_retry_after_beyond_reason_is_read_as_the_longest_one(value: str) -> None:
    # 10**12 s once crashed a run with OverflowError (a due date past year 9999).
    assert parse_retry_after(value, now=lambda: 1445412480.0) == LONGEST_RETRY_AFTER


@pytest.mark.parametrize("value", ["²", "-5", "5.5", "1e9"])
def test_a_retry_after_that_is_not_a_number_of_seconds_is_ignored(value: str) -> None:
    assert parse_retry_after(value) is None


async def test_a_host_name_that_does_not_resolve_is_a_dns_error() -> None:
    transport = HttpTransport(HttpSettings(connect_timeout=5))
    try:
        with pytest.raises(NameResolutionError, match=r"cannot resolve no-such-host\.invalid"):
            await _read(transport, "http://no-such-host.invalid/x.fits?token=SECRET123")
    finally:
        await transport.close()


async def _huge_total(request: web.Request) -> web.Response:
    headers = {"ETag": '"v1"', "Content-Range": f"bytes 0-9/{10**23}"}
    return web.Response(status=206, body=b"x" * 10, headers=headers)


async def test_a_206_with_an_absurd_total_is_an_integrity_error() -> None:
    app = web.Application()
    app.router.add_get("/huge", _huge_total)
    runner, url = await serve(app)
    transport = HttpTransport()
    try:
        with pytest.raises(IntegrityError, match="Content-Range"):
            await _read(transport, f"{url}/huge", ByteRange(0, 10))
    finally:
        await transport.close()
        await runner.cleanup()


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=lambda: 1445412480.0) == 10.0
