"""The S3 transport against the simulator's S3 (moto on loopback, fault proxy in front):
reads, ranges, If-Match, signing, endpoints, faults and deadlines, all as skyhaul errors."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import boto3
import pytest
from aiohttp import web

from skyhaul.adapters.s3 import S3Settings, S3Transport, parse_s3_url
from skyhaul.adapters.s3_access import S3Access
from skyhaul.core.ranges import ByteRange, ContentRange
from skyhaul.errors import (
    ClientError,
    ConnectError,
    ReadTimeoutError,
    RemoteChangedError,
    ServerError,
    ThrottledError,
)
from skyhaul.sim.s3 import SIM_CREDENTIALS, SIM_REGION
from skyhaul.sim.s3_thread import S3SimThread

from .conftest import CHANGED_INDEX, KIB, MIB, unsigned_transport

PRIVATE_KEY = "private/secret.bin"
PRIVATE_BODY = b"only for signed requests\n" * 100


async def _read(transport: S3Transport, url: str, r: ByteRange | None = None) -> bytes:
    async with transport.open(url, r) as body:
        return b"".join([chunk async for chunk in body.chunks()])


@pytest.fixture(scope="module")
def private_url(s3_sim: S3SimThread) -> str:
    """An object without the public-read ACL, uploaded with moto's own client."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_sim.moto_endpoint,
        region_name=SIM_REGION,
        aws_access_key_id=SIM_CREDENTIALS[0],
        aws_secret_access_key=SIM_CREDENTIALS[1],
    )
    client.put_object(Bucket=s3_sim.bucket, Key=PRIVATE_KEY, Body=PRIVATE_BODY)
    return s3_sim.url_for(PRIVATE_KEY)


def _env(endpoint: str, **more: str) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL_S3": endpoint, **more}


async def test_stat_gives_size_and_the_quoted_etag_s3_sent(s3_sim: S3SimThread) -> None:
    obj = s3_sim.objects()[0]
    transport = unsigned_transport(s3_sim.endpoint)
    try:
        info = await transport.stat(obj.url)
    finally:
        await transport.close()
    md5 = hashlib.md5(obj.version.disk_path.read_bytes()).hexdigest()
    assert info.size == obj.size
    assert info.etag == info.validator == obj.etag == f'"{md5}"'  # single-part ETag: MD5
    assert info.last_modified is not None and info.last_modified.endswith(" GMT")
    assert info.accepts_ranges


async def test_whole_read_is_the_object(s3_sim: S3SimThread) -> None:
    obj = s3_sim.objects()[1]
    transport = unsigned_transport(s3_sim.endpoint)
    try:
        async with transport.open(obj.url) as body:
            assert not body.partial
            assert body.content_range is None
            assert body.info.size == obj.size
            assert body.info.validator == obj.etag
            data = b"".join([chunk async for chunk in body.chunks()])
    finally:
        await transport.close()
    assert data == obj.version.disk_path.read_bytes()


async def test_parallel_ranges_of_100_mib_reassemble_exactly(s3_sim: S3SimThread) -> None:
    big = next(o for o in s3_sim.objects() if o.size == 100 * MIB)
    bounds = [0, 1, 30 * MIB + 7, 61 * MIB, big.size]  # uneven pieces, one of a single byte
    ranges = [ByteRange(a, b) for a, b in itertools.pairwise(bounds)]
    transport = unsigned_transport(s3_sim.endpoint)

    async def piece(r: ByteRange) -> bytes:
        async with transport.open(big.url, r, if_range=big.etag) as body:
            assert body.partial
            assert body.content_range == ContentRange(r.start, r.end, big.size)
            return b"".join([chunk async for chunk in body.chunks()])

    try:
        pieces = await asyncio.gather(*(piece(r) for r in ranges))
    finally:
        await transport.close()
    assert [len(p) for p in pieces] == [r.length for r in ranges]
    whole = hashlib.sha256()
    for p in pieces:
        whole.update(p)
    assert whole.hexdigest() == big.version.sha256


async def test_if_match_fails_once_the_object_is_uploaded_again(s3_sim: S3SimThread) -> None:
    obj = s3_sim.objects()[CHANGED_INDEX]
    transport = unsigned_transport(s3_sim.endpoint)
    try:
        before = await transport.stat(obj.url)
        changed = s3_sim.change_object(obj.key)
        assert changed.etag != before.validator
        with pytest.raises(RemoteChangedError) as caught:
            async with transport.open(obj.url, ByteRange(0, 100), if_range=before.validator):
                pass
        assert caught.value.status == 412
        assert obj.url in str(caught.value)
        # The new validator is accepted: the mismatch, not If-Match itself, failed.
        async with transport.open(obj.url, ByteRange(0, 100), if_range=changed.etag) as body:
            data = b"".join([chunk async for chunk in body.chunks()])
    finally:
        await transport.close()
    assert data == changed.version.disk_path.read_bytes()[:100]


async def test_a_missing_key_is_a_404_client_error(s3_sim: S3SimThread) -> None:
    url = s3_sim.url_for("raw/none/such.bin")
    transport = unsigned_transport(s3_sim.endpoint)
    try:
        with pytest.raises(ClientError) as on_stat:
            await transport.stat(url)
        with pytest.raises(ClientError) as on_open:
            await _read(transport, url)
        with pytest.raises(ClientError) as on_bucket:
            await transport.stat("s3://skyhaul-no-such-bucket/a.bin")
    finally:
        await transport.close()
    assert on_stat.value.status == on_open.value.status == on_bucket.value.status == 404
    assert "s3://" in str(on_open.value)


async def test_unsigned_requests_read_public_objects_only(
    s3_sim: S3SimThread, private_url: str
) -> None:
    transport = S3Transport(environ=lambda: _env(s3_sim.endpoint), home=Path("/nonexistent"))
    try:
        assert not transport.access.signed
        public = s3_sim.objects()[0]
        assert await _read(transport, public.url) == public.version.disk_path.read_bytes()
        with pytest.raises(ClientError) as caught:
            await _read(transport, private_url)
    finally:
        await transport.close()
    assert caught.value.status == 403


async def test_env_credentials_sign_requests(s3_sim: S3SimThread, private_url: str) -> None:
    key_id, secret = SIM_CREDENTIALS
    environ = _env(s3_sim.endpoint, AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret)
    transport = S3Transport(environ=lambda: environ, home=Path("/nonexistent"))
    try:
        assert transport.access.signed
        assert await _read(transport, private_url) == PRIVATE_BODY
    finally:
        await transport.close()


async def test_aws_endpoint_url_s3_wins_over_aws_endpoint_url(s3_sim: S3SimThread) -> None:
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    obj = s3_sim.objects()[0]
    chosen = S3Transport(
        environ=lambda: _env(s3_sim.endpoint, AWS_ENDPOINT_URL=dead), home=Path("/nonexistent")
    )
    general = S3Transport(environ=lambda: {"AWS_ENDPOINT_URL": dead}, home=Path("/nonexistent"))
    try:
        assert (await chosen.stat(obj.url)).size == obj.size
        with pytest.raises(ConnectError):
            await general.stat(obj.url)
    finally:
        await chosen.close()
        await general.close()


async def test_a_body_cut_short_is_a_connect_error(s3_faults: S3SimThread) -> None:
    obj = s3_faults.objects()[2]
    s3_faults.set_faults(drop_after=1000)
    dropped = s3_faults.stats.snapshot().dropped
    transport = unsigned_transport(s3_faults.endpoint)
    try:
        with pytest.raises(ConnectError) as caught:
            await _read(transport, obj.url)
    finally:
        await transport.close()
    assert "cut short" in str(caught.value)
    assert s3_faults.stats.snapshot().dropped == dropped + 1


async def test_a_body_cut_short_yields_what_arrived_before_the_cut(s3_faults: S3SimThread) -> None:
    big = next(o for o in s3_faults.objects() if o.size == 100 * MIB)
    s3_faults.set_faults(drop_after=300 * KIB)
    transport = unsigned_transport(s3_faults.endpoint)
    received = b""
    try:
        with pytest.raises(ConnectError):
            async with transport.open(big.url, ByteRange(0, 8 * MIB), if_range=big.etag) as body:
                async for chunk in body.chunks():
                    received += chunk
    finally:
        await transport.close()
    # A range that breaks off resumes after the bytes it got: less than 64 KiB is lost.
    assert 300 * KIB - 64 * KIB < len(received) <= 300 * KIB
    assert received == big.version.disk_path.read_bytes()[: len(received)]


@pytest.mark.parametrize(
    ("status", "error", "mapped"),
    [
        (503, ThrottledError, 503),
        (500, ServerError, 500),
        (401, ClientError, 403),
        (403, ClientError, 403),
        (400, ClientError, 400),
    ],
)
async def test_error_statuses_map_to_skyhaul_errors(
    s3_faults: S3SimThread, status: int, error: type[Exception], mapped: int
) -> None:
    obj = s3_faults.objects()[3]
    s3_faults.set_faults(fail_paths={obj.key: status})
    transport = unsigned_transport(s3_faults.endpoint)
    try:
        with pytest.raises(error) as caught:
            await _read(transport, obj.url)
        with pytest.raises(error):
            await transport.stat(obj.url)
    finally:
        await transport.close()
    assert getattr(caught.value, "status", None) == mapped


@pytest.mark.parametrize("knobs", [{"p503": 1.0}, {"rate_limit": 0.001, "burst": 0}])
async def test_throttling_answers_slowdown(
    s3_faults: S3SimThread, knobs: dict[str, object]
) -> None:
    obj = s3_faults.objects()[3]
    s3_faults.set_faults(**knobs)
    transport = unsigned_transport(s3_faults.endpoint)
    try:
        if "rate_limit" in knobs:  # the limiter admits the first request only
            await transport.stat(obj.url)
        with pytest.raises(ThrottledError) as caught:
            await _read(transport, obj.url)
    finally:
        await transport.close()
    assert caught.value.status == 503
    assert "SlowDown" in str(caught.value)


@pytest.fixture
async def stalling_s3() -> AsyncIterator[str]:
    """An endpoint whose GET sends headers and 10 bytes of 1000, then nothing; and whose
    HEAD never answers."""

    async def stall_body(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Length": "1000",
                "ETag": '"v1"',
                "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT",
            }
        )
        await response.prepare(request)
        await response.write(b"x" * 10)
        await asyncio.Event().wait()
        return response

    async def stall_headers(request: web.Request) -> web.StreamResponse:
        await asyncio.Event().wait()
        return web.Response()

    app = web.Application()
    app.router.add_get("/{tail:.*}", stall_body, allow_head=False)
    app.router.add_route("HEAD", "/{tail:.*}", stall_headers)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_a_server_that_stops_sending_times_out_within_the_bound(stalling_s3: str) -> None:
    settings = S3Settings(connect_timeout=0.5, read_timeout=0.5)
    transport = unsigned_transport(stalling_s3, settings)
    try:
        started = time.monotonic()
        with pytest.raises(ReadTimeoutError):
            await _read(transport, "s3://bucket/stalls.bin")
        body_wait = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(ReadTimeoutError):
            await transport.stat("s3://bucket/stalls.bin")
        headers_wait = time.monotonic() - started
    finally:
        await transport.close()
    assert 0.4 < body_wait < 5.0
    assert 0.4 < headers_wait < 5.0


def test_s3_urls_need_a_bucket_and_a_key() -> None:
    assert parse_s3_url("s3://stpubdata/jwst/public/a b.fits") == (
        "stpubdata",
        "jwst/public/a b.fits",
    )
    for bad in ("s3://bucket", "s3://bucket/", "https://bucket/key", "s3:///key"):
        with pytest.raises(ClientError):
            parse_s3_url(bad)


async def test_close_is_idempotent_and_the_transport_reopens(s3_sim: S3SimThread) -> None:
    obj = s3_sim.objects()[0]
    transport = S3Transport(access=S3Access(endpoint=s3_sim.endpoint))
    await transport.close()
    assert (await transport.stat(obj.url)).size == obj.size
    await transport.close()
    await transport.close()
    assert (await transport.stat(obj.url)).size == obj.size
    await transport.close()


def test_obstore_is_imported_only_when_an_s3_url_is_first_used() -> None:
    probe = (
        "import asyncio, sys\n"
        "import skyhaul.cli.app\n"
        "from skyhaul.adapters.s3 import S3Transport\n"
        "from skyhaul.adapters.s3_access import S3Access\n"
        "from skyhaul.errors import ConnectError\n"
        "t = S3Transport(access=S3Access(endpoint='http://127.0.0.1:9'))\n"
        "print('obstore' in sys.modules)\n"
        "async def first():\n"
        "    try:\n"
        "        await t.stat('s3://b/k')\n"
        "    except ConnectError:\n"
        "        pass\n"
        "asyncio.run(first())\n"
        "print('obstore' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
