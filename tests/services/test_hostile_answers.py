"""The engine against hostile servers on loopback (issue 13).

A body that never ends, a byte every few seconds, 206s that drop their validator and
ignore If-Range, a Retry-After of years, a host that does not resolve, a 206 total of
10**23, a symlinked part file: each file ends FAILED or ABANDONED with its class, soon,
with a one-line message; nothing oversized or spliced is ever promoted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from tests.adapters.http.loopback import serve

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.http import LONGEST_RETRY_AFTER
from skyhaul.core.lifecycle import FileEvent, FileState
from skyhaul.core.model import FileSpec, RunSummary, Selection, TransferOptions
from skyhaul.core.paths import part_name
from skyhaul.core.retry import QUICK_ATTEMPTS
from skyhaul.core.units import MAX_SIZE
from skyhaul.services.acquire import run_download
from skyhaul.services.clock import Clock

from .conftest import KIB, NOW, assert_catalog_truthful

SEGMENT = 64 * KIB
OPTIONS = TransferOptions(
    concurrency=4,
    max_per_host=4,
    segment_size=SEGMENT,
    max_attempts=1,
    read_timeout=30,
    retry_base_delay=0.01,
    retry_max_delay=0.05,
)
#: Without the bounds under test, these runs take years (or for ever): fail instead.
DEADLINE = 30.0


@dataclass
class Hostile:
    """A loopback server of hostile answers, counting the body bytes it sent per path."""

    url: str = ""
    sent: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    """Requests answered 429."""
    old: bytes = b"a" * (4 * SEGMENT)
    """What the spliced file's first answer serves (version 1)..."""
    new: bytes = b"b" * (4 * SEGMENT)
    """...and every later one (version 2, the same size)."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/endless.bin", self._endless)
        app.router.add_get("/trickle.bin", self._trickle)
        app.router.add_get("/spliced.bin", self._spliced)
        app.router.add_get("/throttled/{name}", self._throttled)
        app.router.add_get("/absurd.bin", self._absurd)
        app.router.add_get("/four-segments.bin", self._four_segments)
        return app

    def _count(self, request: web.Request, n: int) -> None:
        self.sent[request.path] = self.sent.get(request.path, 0) + n

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        # A 200 without Content-Length, whatever was asked: bytes until the client leaves.
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = b"x" * (16 * KIB)
        while True:
            await response.write(chunk)
            self._count(request, len(chunk))

    async def _trickle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(SEGMENT)})
        await response.prepare(request)
        while True:
            await response.write(b"x")
            self._count(request, 1)
            await asyncio.sleep(0.05)

    async def _spliced(self, request: web.Request) -> web.Response:
        # The first range answer carries ETag "v1"; later ones carry no ETag and ignore
        # If-Range, serving version 2 of the same size; a whole answer is version 2.
        range_header = request.headers.get("Range")
        if range_header is None:
            return web.Response(body=self.new)
        start, _, end = range_header.removeprefix("bytes=").partition("-")
        first, last = int(start), min(int(end), len(self.new) - 1)
        headers = {"Content-Range": f"bytes {first}-{last}/{len(self.new)}"}
        if "If-Range" not in request.headers:
            headers["ETag"] = '"v1"'
            body = self.old[first : last + 1]
        else:
            body = self.new[first : last + 1]
        return web.Response(status=206, body=body, headers=headers)

    async def _throttled(self, request: web.Request) -> web.Response:
        self.throttled += 1
        return web.Response(status=429, headers={"Retry-After": request.query["after"]})

    async def _absurd(self, request: web.Request) -> web.Response:
        headers = {"ETag": '"v1"', "Content-Range": f"bytes 0-9/{10**23}"}
        return web.Response(status=206, body=b"x" * 10, headers=headers)

    async def _four_segments(self, request: web.Request) -> web.Response:
        # The first KiB of a file of four segments, whatever range was asked.
        headers = {"ETag": '"v1"', "Content-Range": f"bytes 0-{KIB - 1}/{4 * SEGMENT}"}
        return web.Response(status=206, body=b"x" * KIB, headers=headers)


@pytest.fixture
async def hostile() -> AsyncIterator[Hostile]:
    server = Hostile()
    runner, server.url = await serve(server.app())
    yield server
    await runner.cleanup()


async def _run(catalog: Catalog, options: TransferOptions, **kwargs: object) -> RunSummary:
    return await asyncio.wait_for(run_download(catalog, options, **kwargs), DEADLINE)  # type: ignore[arg-type]


def _register(catalog: Catalog, dest: Path, *specs: FileSpec) -> None:
    catalog.register(list(specs), str(dest), now=NOW)


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]


# --- 1. a body longer than the known size ------------------------------------------------


@pytest.mark.parametrize(
    "size", [SEGMENT // 2, 4 * SEGMENT], ids=["whole-file", "probe-answered-200"]
)
async def test_an_endless_body_stops_at_the_known_size_and_fails_as_integrity(
    hostile: Hostile, catalog: Catalog, tmp_path: Path, size: int
) -> None:
    # Once written without limit: 4.4 GB in 15 s, and the disk was full.
    _register(catalog, tmp_path, FileSpec(f"{hostile.url}/endless.bin", "f.bin", size=size))
    summary = await _run(catalog, OPTIONS)
    [failure] = summary.failures
    assert failure.error_class == "integrity"
    assert f"more than the {size} bytes" in failure.message
    part = tmp_path / "f.bin.part"
    assert not part.exists() or part.stat().st_size <= size
    assert not (tmp_path / "f.bin").exists()
    assert_catalog_truthful(catalog)


# --- 2. a 206 without the recorded validator ---------------------------------------------


async def test_ranges_without_the_recorded_validator_restart_the_file_never_splice(
    hostile: Hostile, catalog: Catalog, tmp_path: Path
) -> None:
    # No expected size or checksum: nothing but the validator tells the versions apart.
    _register(catalog, tmp_path, FileSpec(f"{hostile.url}/spliced.bin", "f.bin"))
    summary = await _run(catalog, OPTIONS)
    assert summary.downloaded == 1, summary.failures
    assert (tmp_path / "f.bin").read_bytes() == hostile.new  # one version, never a mix
    assert_catalog_truthful(catalog)


# --- 3. Retry-After of years ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "max_wait"),
    [("99999999", 600.0), ("1000000000000", 600.0), ("30", 1.0)],
    ids=["3-years", "31700-years", "longer-than-max-wait"],
)
async def test_a_retry_after_of_years_fails_the_files_with_their_due_time(
    hostile: Hostile, catalog: Catalog, tmp_path: Path, after: str, max_wait: float
) -> None:
    # Once: 3 years of sleep, every other file of the host paused for ever, or an
    # OverflowError that crashed the run. Now the host is asked once; the other files are
    # not sent before the time it asked for.
    specs = [
        FileSpec(f"{hostile.url}/throttled/{name}?after={after}", name, size=size)
        for name, size in (("small.bin", KIB), ("large.bin", 4 * SEGMENT), ("other.bin", KIB))
    ]
    _register(catalog, tmp_path, *specs)
    options = replace(OPTIONS, concurrency=1, max_attempts=5, max_wait=max_wait)
    began = datetime.now(UTC)
    summary = await _run(catalog, options)
    assert (summary.downloaded, summary.failed, summary.abandoned) == (0, 3, 0)
    assert hostile.throttled == 1
    asked = min(float(after), LONGEST_RETRY_AFTER)
    for record in catalog.list_files():
        assert record.state is FileState.FAILED
        assert record.error_class is not None and record.error_class.value == "throttled"
        assert record.next_attempt_at is not None
        due = (record.next_attempt_at - began).total_seconds()
        assert asked - 10 <= due <= asked + 10


# --- 5. a body that trickles -----------------------------------------------------------------


async def test_a_trickling_body_fails_as_a_read_timeout_under_the_minimum_speed(
    hostile: Hostile, catalog: Catalog, tmp_path: Path
) -> None:
    # Once: a byte every 5 s kept a file DOWNLOADING for ever (never a silent read).
    _register(catalog, tmp_path, FileSpec(f"{hostile.url}/trickle.bin", "f.bin", size=SEGMENT))
    options = replace(OPTIONS, min_speed=1024, min_speed_time=0.5)
    summary = await _run(catalog, options)
    [failure] = summary.failures
    assert failure.error_class == "read_timeout"
    assert "slower than 1.0 KiB/s for 0.5s" in failure.message
    assert hostile.sent["/trickle.bin"] < 100


# --- 6. a host that does not resolve ---------------------------------------------------------


@dataclass
class VirtualTime:
    """A wall clock that the engine's retry waits move on, without waiting."""

    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    slept: list[float] = field(default_factory=list)

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)
        await asyncio.sleep(0)


async def test_a_misspelled_host_is_abandoned_after_a_few_quick_tries(
    catalog: Catalog, tmp_path: Path
) -> None:
    # Once: 44 s and about 25 connection attempts before it said anything.
    url = "http://no-such-host.invalid/pub/x.fits"
    _register(catalog, tmp_path, FileSpec(url, "x.fits"), FileSpec(url + "?big", "y.fits"))
    virtual = VirtualTime()
    clock = Clock(now=virtual.now, monotonic=time.monotonic, sleep=virtual.sleep)
    summary = await _run(catalog, replace(OPTIONS, max_attempts=5), clock=clock)
    assert summary.abandoned == 2
    for failure in summary.failures:
        assert failure.error_class == "dns"
        assert "cannot resolve no-such-host.invalid" in failure.message
    assert [r.attempts for r in catalog.list_files()] == [QUICK_ATTEMPTS] * 2
    assert sum(virtual.slept) < 5.0  # within seconds


# --- 7. unexpected errors inside a transfer ------------------------------------------------


async def test_a_symlinked_part_file_is_refused_as_a_client_error_without_a_traceback(
    hostile: Hostile, catalog: Catalog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / part_name("f.bin")).symlink_to(tmp_path / "elsewhere")
    _register(catalog, dest, FileSpec(f"{hostile.url}/spliced.bin", "f.bin"))
    with caplog.at_level(logging.INFO, logger="skyhaul"):
        summary = await _run(catalog, replace(OPTIONS, max_attempts=5))
    [failure] = summary.failures
    assert (failure.error_class, failure.abandoned) == ("client", True)
    assert "symlink" in failure.message
    assert not (tmp_path / "elsewhere").exists()
    assert not _tracebacks(caplog)


async def test_a_206_total_of_10_to_the_23_is_an_integrity_error_without_a_traceback(
    hostile: Hostile, catalog: Catalog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _register(catalog, tmp_path, FileSpec(f"{hostile.url}/absurd.bin", "f.bin"))
    with caplog.at_level(logging.INFO, logger="skyhaul"):
        summary = await _run(catalog, OPTIONS)
    [failure] = summary.failures
    assert failure.error_class == "integrity"
    assert "Content-Range" in failure.message
    assert not _tracebacks(caplog)


async def test_a_size_past_what_the_catalog_can_count_fails_the_file_as_a_client_error(
    hostile: Hostile, catalog: Catalog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The catalog holds 1 KiB less than it can count (a file set aside): the size a
    # server announces for a file of unknown size would pass 2**63 - 1 bytes in all.
    aside = FileSpec("https://archive.example/aside.bin", "aside.bin", size=MAX_SIZE - KIB)
    _register(catalog, tmp_path, aside, FileSpec(f"{hostile.url}/four-segments.bin", "f.bin"))
    catalog.apply_event(FileEvent.IGNORE, Selection(url_prefix=aside.url), now=NOW)
    with caplog.at_level(logging.INFO, logger="skyhaul"):
        summary = await _run(catalog, OPTIONS)
    [failure] = summary.failures
    assert (failure.error_class, failure.abandoned) == ("client", True)
    assert "more than 9223372036854775807 (8 EiB - 1)" in failure.message
    assert not _tracebacks(caplog)
    assert catalog.status_summary() == catalog.recount_totals()
