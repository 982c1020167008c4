"""Files with mirrors through the engine: S3 and HTTP simulators serving the same bytes.

A source that fails moves the transfer to the next one, keeping the bytes it wrote; a
source holding another file is dropped; bytes from two sources that do not make the file
are fetched again from one; a resume asks the source its validator came from.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileRecord, FileSpec, TransferOptions
from skyhaul.services.acquire import run_download
from skyhaul.services.clock import Clock
from skyhaul.services.transfer.transfer import MIRROR_PATIENCE
from skyhaul.sim.listing import ListedFile

from .conftest import KIB, MIB, NOW, Mirrored, assert_catalog_truthful, states

SEGMENT = 256 * KIB
#: Two requests per range before moving on: a source that keeps failing is left quickly.
OPTIONS = TransferOptions(
    concurrency=4,
    max_per_host=8,
    segment_size=SEGMENT,
    max_attempts=2,
    read_timeout=10,
    retry_base_delay=0.01,
    retry_max_delay=0.05,
)
#: Every S3 or HTTP body is cut after this many bytes: less than a segment.
CUT = 100 * KIB


def _register(catalog: Catalog, dest: Path, f: ListedFile, url: str, *mirrors: str) -> FileRecord:
    """Register ``f`` (its size and sha256 expected) at ``url`` with ``mirrors``."""
    spec = FileSpec(url, f.path, f.size, f"sha256:{f.sha256}", mirrors=mirrors)
    catalog.register([spec], str(dest), now=NOW)
    [record] = catalog.list_files()
    return record


def _served(catalog: Catalog, record: FileRecord) -> list[dict[str, int]]:
    """Which URL served how many bytes, per attempt."""
    return [dict(a.sources) for a in catalog.attempts(record.id)]


def _sent(side: Mirrored, path: str) -> tuple[int, int]:
    """Body bytes of ``path`` sent so far by the HTTP and the S3 simulator."""
    http = side.http.stats.snapshot().bytes_by_path.get(path, 0)
    s3 = side.s3.stats.snapshot().bytes_by_path.get(path, 0)
    return http, s3


async def test_s3_cut_mid_file_continues_over_http_keeping_the_bytes_written(
    mirrored: Mirrored, catalog: Catalog, tmp_path: Path
) -> None:
    f = mirrored.files(2 * MIB)[0]
    s3_url = mirrored.s3_url(f)
    mirrored.s3.set_faults(drop_after=CUT)  # every S3 body: S3 keeps failing
    record = _register(catalog, tmp_path / "out", f, s3_url, f.url)
    http_before, s3_before = _sent(mirrored, f.path)
    summary = await run_download(catalog, OPTIONS)
    assert summary.downloaded == 1, summary.failures
    assert_catalog_truthful(catalog)
    [served] = _served(catalog, record)
    assert set(served) == {s3_url, f.url}
    assert served[s3_url] > 0
    assert served[s3_url] + served[f.url] == f.size
    http_sent, s3_sent = _sent(mirrored, f.path)
    # The bytes S3 delivered were kept: HTTP sent exactly the rest, nothing twice.
    assert http_sent - http_before == f.size - served[s3_url]
    assert s3_sent - s3_before >= served[s3_url]
    assert mirrored.s3.stats.snapshot().dropped >= 2


@pytest.mark.parametrize("size", [2 * MIB, 64 * KIB], ids=["segmented", "whole"])
async def test_corrupt_http_bytes_are_never_promoted_the_s3_mirror_serves_the_file(
    mirrored: Mirrored, catalog: Catalog, tmp_path: Path, size: int
) -> None:
    f = mirrored.files(size)[1]
    s3_url = mirrored.s3_url(f)
    mirrored.http.set_faults(corrupt=1.0)
    record = _register(catalog, tmp_path / "out", f, f.url, s3_url)
    corrupted = mirrored.http.stats.snapshot().corrupted
    summary = await run_download(catalog, OPTIONS)
    assert summary.downloaded == 1, summary.failures
    assert_catalog_truthful(catalog)
    assert mirrored.http.stats.snapshot().corrupted > corrupted
    # One attempt; the content promoted came from S3 alone (the corrupt bytes were dropped).
    assert _served(catalog, record) == [{s3_url: f.size}]
    # The summary says so: a mismatch fetched again, from the next source; no retry.
    assert (summary.sources_switched, summary.integrity_refetched) == (1, 1)
    assert summary.retries == {}
    data = (tmp_path / "out" / f.path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == f.sha256


async def test_mixed_bytes_that_fail_verification_are_fetched_again_from_the_mirror(
    mirrored: Mirrored, catalog: Catalog, tmp_path: Path
) -> None:
    f = mirrored.files(2 * MIB)[2]
    # S3 holds another file of the same size (no digest announced): a bad copy.
    wrong = mirrored.put("wrong/same-size-a.bin", os.urandom(f.size))
    mirrored.s3.set_faults(drop_after=CUT)
    record = _register(catalog, tmp_path / "out", f, wrong, f.url)
    http_before, _ = _sent(mirrored, f.path)
    summary = await run_download(catalog, OPTIONS)
    assert summary.downloaded == 1, summary.failures
    assert_catalog_truthful(catalog)
    # One attempt: the mix failed verification and HTTP alone served the file again.
    assert _served(catalog, record) == [{f.url: f.size}]
    # The summary says so: one switch (S3 to HTTP), one mismatch fetched again, no retry.
    assert (summary.sources_switched, summary.integrity_refetched) == (1, 1)
    assert summary.retries == {}
    http_sent, _ = _sent(mirrored, f.path)
    assert http_sent - http_before > f.size


async def test_mixed_bytes_redone_from_a_wrong_mirror_fail_as_integrity(
    mirrored: Mirrored, catalog: Catalog, tmp_path: Path
) -> None:
    f = mirrored.files(2 * MIB)[3]
    wrong = mirrored.put("wrong/same-size-b.bin", os.urandom(f.size))
    mirrored.http.set_faults(drop_after=CUT)
    record = _register(catalog, tmp_path / "out", f, f.url, wrong)
    summary = await run_download(catalog, replace(OPTIONS, max_attempts=1))
    assert summary.downloaded == 0
    assert_catalog_truthful(catalog)
    assert states(catalog).get(FileState.DOWNLOADED, 0) == 0
    [attempt] = catalog.attempts(record.id)
    assert attempt.error_class is ErrorClass.INTEGRITY
    assert "checksum mismatch" in (attempt.message or "")
    assert not (tmp_path / "out" / f.path).exists()


@pytest.mark.parametrize(
    ("size", "first"),
    [(2 * MIB, "cut"), (2 * MIB, "missing"), (64 * KIB, "missing")],
    ids=["segmented-after-a-cut", "segmented-after-a-404", "whole-after-a-404"],
)
async def test_a_mirror_of_another_size_is_dropped_and_the_next_one_used(
    mirrored: Mirrored, catalog: Catalog, tmp_path: Path, size: int, first: str
) -> None:
    f = mirrored.files(size)[4 if size == 2 * MIB else 2]
    if first == "cut":
        url = mirrored.s3_url(f)
        mirrored.s3.set_faults(drop_after=CUT)
    else:
        url = mirrored.s3.url_for(f"missing/{f.path}")
    other = mirrored.put(f"other-size/{f.path}", os.urandom(f.size + 1))
    record = _register(catalog, tmp_path / "out", f, url, other, f.url)
    summary = await run_download(catalog, OPTIONS)
    assert summary.downloaded == 1, summary.failures
    assert_catalog_truthful(catalog)
    [served] = _served(catalog, record)
    assert other not in served
    assert served[f.url] > 0
    assert sum(served.values()) == f.size
    assert set(served) == ({url, f.url} if first == "cut" else {f.url})


async def test_a_resume_asks_the_source_its_validator_came_from_first(
    mirrored: Mirrored, catalog: Catalog, tmp_path: Path
) -> None:
    f = mirrored.files(2 * MIB)[5]
    s3_url = mirrored.s3_url(f)
    mirrored.s3.set_faults(drop_after=CUT)
    mirrored.http.set_faults(bandwidth=512 * KIB)
    record = _register(catalog, tmp_path / "out", f, s3_url, f.url)
    cancel = asyncio.Event()
    run = asyncio.ensure_future(run_download(catalog, OPTIONS, cancel=cancel))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    # Polls a counter owned by the simulator's thread (no event to await across threads).
    while _sent(mirrored, f.path)[0] < f.size // 3:
        assert loop.time() < deadline, "HTTP never took over"
        await asyncio.sleep(0.02)
    cancel.set()
    first = await run
    assert first.interrupted and first.downloaded == 0
    [held] = catalog.list_files()
    assert held.validator_url == f.url
    assert held.validator is not None
    durable = sum(end - start for start, end in catalog.segments(record.id))
    assert durable > 0

    # S3 serves again: a resume that asked it first, with HTTP's validator, would see a
    # 412 and start again from byte 0 there.
    mirrored.s3.set_faults(drop_after=None)
    mirrored.http.set_faults(bandwidth=None)
    http_before, s3_before = _sent(mirrored, f.path)
    second = await run_download(catalog, OPTIONS)
    assert second.downloaded == 1, second.failures
    assert_catalog_truthful(catalog)
    http_sent, s3_sent = _sent(mirrored, f.path)
    assert s3_sent == s3_before
    assert http_sent - http_before == f.size - durable
    assert _served(catalog, record)[-1] == {f.url: f.size}


@asynccontextmanager
async def _file_server(path: Path, digest: str) -> AsyncIterator[tuple[str, str]]:
    """Serve ``path`` (ranges, ETag) twice: at the first URL for one request only (then
    404), at the second announcing ``Repr-Digest: digest``. Yield both URLs."""
    served_once: list[int] = []

    async def once(request: web.Request) -> web.StreamResponse:
        if served_once:
            raise web.HTTPNotFound()
        served_once.append(1)
        return web.FileResponse(path)

    async def announcing(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers={"Repr-Digest": digest})

    app = web.Application()
    app.router.add_get("/once.bin", once)
    app.router.add_get("/announcing.bin", announcing)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    origin = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield f"{origin}/once.bin", f"{origin}/announcing.bin"
    finally:
        await runner.cleanup()


def _md5_digest(data: bytes) -> str:
    return f"md5=:{base64.b64encode(hashlib.md5(data).digest()).decode()}:"


@pytest.mark.parametrize(
    ("announce", "downloaded"),
    [(_md5_digest, True), (lambda data: _md5_digest(data[::-1]), False)],
    ids=["right-md5", "wrong-md5"],
)
async def test_a_digest_of_another_algorithm_learned_at_a_switch_is_verified(
    mirrored: Mirrored,
    catalog: Catalog,
    tmp_path: Path,
    announce: Callable[[bytes], str],
    downloaded: bool,
) -> None:
    f = mirrored.files(2 * MIB)[6]
    digest = announce(f.version.disk_path.read_bytes())
    # The first source answers the probe, then 404: the mirror, announcing an md5 that
    # nobody computed so far, serves the other segments.
    async with _file_server(f.version.disk_path, digest) as (first, mirror):
        record = _register(catalog, tmp_path / "out", f, first, mirror)
        summary = await run_download(catalog, replace(OPTIONS, max_attempts=1))
    assert_catalog_truthful(catalog)
    assert summary.downloaded == int(downloaded), summary.failures
    [attempt] = catalog.attempts(record.id)
    if downloaded:
        assert dict(attempt.sources)[first] == SEGMENT
        assert dict(attempt.sources)[mirror] == f.size - SEGMENT
    else:
        # The mirror announced an md5 its bytes do not have: never promoted.
        assert attempt.error_class is ErrorClass.INTEGRITY
        assert "md5" in (attempt.message or "")


async def test_a_dead_source_is_left_after_one_retry_when_a_mirror_serves(
    mirrored: Mirrored, catalog: Catalog, tmp_path: Path
) -> None:
    # Nothing listens on the first URL; the backoff is long, and counted, not slept.
    f = mirrored.files(2 * MIB)[3]
    dead = "http://127.0.0.1:9/" + f.path
    _register(catalog, tmp_path / "out", f, dead, f.url)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    slow = replace(OPTIONS, max_attempts=5, retry_base_delay=30.0, retry_max_delay=30.0)
    summary = await run_download(catalog, slow, clock=Clock(sleep=sleep))
    assert summary.downloaded == 1, summary.failures
    assert_catalog_truthful(catalog)
    # One retry of the probe at the dead source (MIRROR_PATIENCE), then the mirror.
    assert len(waits) == MIRROR_PATIENCE
