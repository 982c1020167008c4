"""The engine end to end: catalog on disk, simulator on loopback, every fault knob.

Whatever the fault, each file ends DOWNLOADED and correct, or cleanly FAILED/ABANDONED:
never a corrupt DOWNLOADED file, never a promoted .part.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import socket
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from tests.loopback_http import LoopbackHTTPServer

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileSpec, TransferOptions
from skyhaul.core.progress import ProgressBoard, ProgressSnapshot
from skyhaul.errors import InvalidSpecError
from skyhaul.services.acquire import run_download
from skyhaul.services.clock import Clock
from skyhaul.sim.archive import ArchiveSpec
from skyhaul.sim.config import SimConfig
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.stdlib_server import StdlibServerThread
from skyhaul.sim.thread import SimThread

from .conftest import KIB, MIB, NOW, assert_catalog_truthful, specs_from, states

FAST = TransferOptions(
    concurrency=8,
    max_per_host=8,
    segment_size=256 * KIB,
    max_attempts=8,
    read_timeout=5,
    retry_base_delay=0.05,
    retry_max_delay=0.5,
)


def _register(catalog: Catalog, specs: list[FileSpec], dest: Path) -> None:
    catalog.register(specs, str(dest), now=NOW)


async def test_clean_run_downloads_and_verifies_everything(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    _register(catalog, specs_from(sim), tmp_path / "out")
    summary = await run_download(catalog, FAST)
    assert summary.downloaded == len(sim.files)
    assert (summary.failed, summary.abandoned, summary.interrupted) == (0, 0, False)
    assert summary.bytes == sum(f.size for f in sim.files)
    assert states(catalog)[FileState.DOWNLOADED] == len(sim.files)
    assert_catalog_truthful(catalog)
    # Large files went in ranges, small ones in one request each.
    assert sim.stats.snapshot().ranged > 0


async def test_sha256_is_computed_and_stored_when_nothing_is_expected(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    _register(catalog, specs_from(sim, with_checksums=False), tmp_path / "out")
    await run_download(catalog, FAST)
    by_path = {f.path: f.sha256 for f in sim.files}
    rows = catalog.list_files()
    assert all(r.sha256 == by_path[r.path] for r in rows)
    assert_catalog_truthful(catalog)


async def test_second_run_has_nothing_to_do(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    _register(catalog, specs_from(sim), tmp_path / "out")
    await run_download(catalog, FAST)
    requests = sim.stats.snapshot().requests
    again = await run_download(catalog, FAST)
    assert (again.downloaded, again.failed) == (0, 0)
    assert sim.stats.snapshot().requests == requests


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(FaultConfig(seed=1, p503=0.08), id="random-503"),
        pytest.param(FaultConfig(seed=2, p503=0.2, retry_after_503=0.1), id="503-retry-after"),
        pytest.param(FaultConfig(seed=3, drop_after=50 * KIB, p_drop=0.3), id="dropped"),
        # Per request: a file of 8 segments is corrupt in a third of its attempts at 5%.
        pytest.param(FaultConfig(seed=4, corrupt=0.05), id="corrupted"),
        pytest.param(FaultConfig(seed=5, ignore_range=True), id="ignore-range"),
        pytest.param(FaultConfig(seed=6, rate_limit=200, burst=5, retry_after=0.1), id="429"),
        pytest.param(FaultConfig(seed=7, rate_limit=300, burst=5), id="429-no-retry-after"),
        pytest.param(FaultConfig(seed=8, latency=0.02), id="latency"),
        pytest.param(FaultConfig(seed=9, bandwidth=4 * MIB), id="bandwidth"),
    ],
)
async def test_every_fault_ends_correct_or_cleanly_failed(
    sim: SimThread, catalog: Catalog, tmp_path: Path, faults: FaultConfig
) -> None:
    sim.set_faults(faults)
    _register(catalog, specs_from(sim), tmp_path / "out")
    summary = await run_download(catalog, FAST)
    assert_catalog_truthful(catalog)
    counts = states(catalog)
    assert counts[FileState.DOWNLOADED] + counts[FileState.ABANDONED] == len(sim.files)
    assert summary.downloaded == counts[FileState.DOWNLOADED]
    # These faults are all transient: with 8 attempts every file gets through.
    assert counts[FileState.DOWNLOADED] == len(sim.files), summary.failures


async def test_content_changing_between_requests_never_promotes_a_mix(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    sim.set_faults(FaultConfig(seed=11, change_every=3))
    _register(catalog, specs_from(sim, with_checksums=False), tmp_path / "out")
    await run_download(catalog, FAST)
    assert_catalog_truthful(catalog)
    generations = {f.path for f in sim.files}
    for record in catalog.list_files():
        if record.state is FileState.DOWNLOADED:
            assert record.path in generations


async def test_stdlib_server_that_ignores_ranges(catalog: Catalog, tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    blobs = {f"f{i}.bin": bytes([i]) * (i * 300 * KIB + 17) for i in range(1, 5)}
    for name, data in blobs.items():
        (served / name).write_bytes(data)
    with StdlibServerThread(served) as server:
        specs = [FileSpec(url=f"{server.base_url}{name}", path=name) for name in blobs]
        _register(catalog, specs, tmp_path / "out")
        summary = await run_download(catalog, FAST)
    assert summary.downloaded == len(blobs)
    for name, data in blobs.items():
        assert (tmp_path / "out" / name).read_bytes() == data
    assert_catalog_truthful(catalog)


async def test_permanent_client_error_abandons_after_one_attempt(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    target = sim.files[0]
    sim.set_faults(FaultConfig(fail_paths={target.path: 404}))
    _register(catalog, specs_from(sim), tmp_path / "out")
    summary = await run_download(catalog, FAST)
    assert summary.abandoned == 1
    assert summary.failures[0].error_class == "client"
    assert "404" in summary.failures[0].message
    row = next(r for r in catalog.list_files() if r.path == target.path)
    assert (row.state, row.attempts) == (FileState.ABANDONED, 1)
    assert summary.downloaded == len(sim.files) - 1


async def test_path_escaping_the_destination_is_refused_at_registration(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    with pytest.raises(InvalidSpecError):
        catalog.register(
            [FileSpec(url=sim.files[0].url, path="../escape.fits")], str(tmp_path / "out"), now=NOW
        )
    assert catalog.count_files() == 0


async def test_path_escaping_the_destination_is_abandoned_and_writes_nothing(
    sim: SimThread, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A row written by a version that did not check paths at registration.
    monkeypatch.setattr("skyhaul.adapters.catalog.store.validate_specs", lambda specs: None)
    first = sim.files[0]
    catalog.register(
        [FileSpec(url=first.url, path="../escape.fits")], str(tmp_path / "out"), now=NOW
    )
    summary = await run_download(catalog, FAST)
    assert summary.abandoned == 1
    assert not (tmp_path / "escape.fits").exists()


async def test_cancel_stops_promptly_and_everything_resumes(
    sim_root: Path, catalog: Catalog, tmp_path: Path
) -> None:
    spec = ArchiveSpec.exact(6, 3 * MIB, seed=21)
    with SimThread(SimConfig(archive=spec, root=sim_root)) as slow:
        slow.set_faults(FaultConfig(bandwidth=2 * MIB))
        _register(catalog, specs_from(slow), tmp_path / "out")
        cancel = asyncio.Event()
        options = TransferOptions(concurrency=6, max_per_host=12, segment_size=512 * KIB)
        run = asyncio.ensure_future(run_download(catalog, options, cancel=cancel))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        # Polls a counter owned by the simulator's thread (no event to await across threads).
        while slow.stats.snapshot().bytes_sent < 4 * MIB and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        cancel.set()
        stopped_at = loop.time()
        first = await run
        assert loop.time() - stopped_at < 2.0
        assert first.interrupted
        counts = states(catalog)
        assert counts[FileState.DOWNLOADING] == 0
        assert counts[FileState.DOWNLOADED] < len(slow.files)
        assert any(catalog.segments(r.id) for r in catalog.list_files())
        sent_before = slow.stats.snapshot().bytes_sent
        slow.set_faults(FaultConfig())
        second = await run_download(catalog, options)
        resent = slow.stats.snapshot().bytes_sent - sent_before
        files = slow.files
    assert second.downloaded + first.downloaded == len(files)
    assert_catalog_truthful(catalog)
    total = sum(f.size for f in files)
    # Resumed, not restarted: the two runs together sent little more than the data.
    assert sent_before + resent <= total + len(files) * options.segment_size


async def test_memory_stays_bounded_for_a_large_file(
    sim_root: Path, catalog: Catalog, tmp_path: Path
) -> None:
    spec = ArchiveSpec.exact(1, 48 * MIB, seed=31)
    with SimThread(SimConfig(archive=spec, root=sim_root)) as big:
        _register(catalog, specs_from(big), tmp_path / "out")
        tracemalloc.start()
        try:
            summary = await run_download(catalog, TransferOptions(segment_size=4 * MIB))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        expected = big.files[0].sha256
    assert summary.downloaded == 1
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len(written) == 1
    digest = hashlib.sha256(written[0].read_bytes())
    assert digest.hexdigest() == expected
    assert peak < 24 * MIB, f"peak traced memory {peak / MIB:.1f} MiB for a 48 MiB file"


async def test_files_left_by_a_dead_local_process_are_taken_over(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    _register(catalog, specs_from(sim), tmp_path / "out")
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await child.wait()
    dead_owner = f"{socket.gethostname()}:{child.pid}:deadbeef"
    # A lease far from expiry: only the dead-owner check can free these files.
    claimed = catalog.claim_batch(dead_owner, 5, now=datetime.now(UTC), lease_seconds=3600)
    assert len(claimed) == 5
    summary = await run_download(catalog, FAST)
    assert summary.downloaded == len(sim.files)
    rows = {r.id: r for r in catalog.list_files()}
    # Released, not failed: the dead run's interrupted attempt does not count.
    assert all(rows[c.id].attempts == 1 for c in claimed)


async def test_unknown_sizes_with_large_probe_segments_hash_cleanly(
    sim_root: Path, catalog: Catalog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = ArchiveSpec.exact(3, 5 * MIB + 123, seed=41)
    with SimThread(SimConfig(archive=spec, root=sim_root)) as server:
        _register(catalog, specs_from(server, with_checksums=False), tmp_path / "out")
        summary = await run_download(catalog, TransferOptions(segment_size=2 * MIB))
        expected = {f.path: f.sha256 for f in server.files}
    gc.collect()
    assert summary.downloaded == 3
    assert {r.path: r.sha256 for r in catalog.list_files()} == expected
    assert not [r for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]


async def test_fast_small_files_are_claimed_in_growing_batches(
    sim_root: Path, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = ArchiveSpec.exact(600, 2 * KIB, seed=43)
    wanted: list[int] = []
    claim_batch = catalog.claim_batch

    def counting_claim(owner: str, limit: int, **kwargs: object) -> object:
        wanted.append(limit)
        return claim_batch(owner, limit, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(catalog, "claim_batch", counting_claim)
    with SimThread(SimConfig(archive=spec, root=sim_root)) as server:
        _register(catalog, specs_from(server), tmp_path / "out")
        summary = await run_download(catalog, TransferOptions(concurrency=4, max_per_host=4))
    assert summary.downloaded == 600
    assert wanted[0] == 64  # the floor: nothing is known yet
    # A fixed 64 would need 10 claims; the rate-sized claims take well over 64 at a time.
    assert max(wanted) > 64
    assert len(wanted) < 10
    assert_catalog_truthful(catalog)


class FakeClock:
    """Virtual time: sleeping moves it forward at once (and runs ``on_sleep``)."""

    def __init__(self, on_sleep: Callable[[float], None]) -> None:
        self.at = datetime(2030, 1, 1, tzinfo=UTC)
        self.slept: list[float] = []
        self._on_sleep = on_sleep

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)
        self._on_sleep(seconds)
        await asyncio.sleep(0)


async def test_a_retry_due_in_a_minute_runs_at_once_on_an_injected_clock(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    target = min(sim.files, key=lambda f: f.size)
    spec = next(s for s in specs_from(sim) if s.url == target.url)
    catalog.register([spec], str(tmp_path / "out"), now=NOW)
    sim.set_faults(FaultConfig(fail_paths={target.path: 503}))
    # The server recovers while the engine waits for the retry.
    clock = FakeClock(on_sleep=lambda _: sim.set_faults(FaultConfig()))
    slow = replace(FAST, retry_base_delay=60.0, retry_max_delay=60.0)
    began = time.monotonic()
    summary = await run_download(
        catalog, slow, clock=Clock(now=clock.now, monotonic=time.monotonic, sleep=clock.sleep)
    )
    assert summary.downloaded == 1
    assert clock.slept and clock.slept[0] > 0  # it did wait, in virtual time...
    assert time.monotonic() - began < 10  # ...not in real time
    assert [a.outcome for a in catalog.attempts(1)] == ["failed", "downloaded"]


async def test_the_summary_counts_the_retries_that_repaired_a_file(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    # One file answers 500 until the engine waits for its retry; one answers 503 with a
    # Retry-After longer than the run waits for (it ends FAILED, due later: not repaired).
    healed, deferred = sorted(specs_from(sim), key=lambda spec: spec.size or 0)[:2]
    # Another host name for the same server: a pause of one host leaves the other alone.
    deferred = replace(deferred, url=deferred.url.replace("127.0.0.1", "localhost"))
    _register(catalog, [healed, deferred], tmp_path / "out")
    sim.set_faults(FaultConfig(fail_paths={healed.path: 500, deferred.path: 429}, retry_after=3600))
    clock = FakeClock(
        on_sleep=lambda _: sim.set_faults(
            FaultConfig(fail_paths={deferred.path: 429}, retry_after=3600)
        )
    )
    slow = replace(FAST, retry_base_delay=60.0, retry_max_delay=60.0)
    summary = await run_download(
        catalog, slow, clock=Clock(now=clock.now, monotonic=time.monotonic, sleep=clock.sleep)
    )
    assert (summary.downloaded, summary.failed) == (1, 1), summary.failures
    assert summary.retries == {"server": 1}
    assert (summary.integrity_refetched, summary.sources_switched) == (0, 0)


async def test_the_summary_counts_no_repair_of_files_that_were_not_repaired(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    # Two small files fail every attempt: one answers 500, one never matches its checksum.
    specs = specs_from(sim)
    failing, mismatched = sorted(specs, key=lambda spec: spec.size or 0)[:2]
    assert (mismatched.size or 0) <= FAST.segment_size  # one request per attempt
    sim.set_faults(FaultConfig(fail_paths={failing.path: 500}))
    wrong = replace(mismatched, checksum="sha256:" + "0" * 64)
    _register(catalog, [wrong if spec is mismatched else spec for spec in specs], tmp_path / "out")
    board = ProgressBoard(time.monotonic)
    summary = await run_download(catalog, FAST, board=board)
    assert (summary.downloaded, summary.abandoned) == (len(specs) - 2, 2)
    retried = FAST.max_attempts - 1  # the last attempt abandons
    # Retried, as the attempt log says, but nothing repaired: the summary counts none.
    failed_attempts = Counter(
        str(attempt.error_class)
        for record in catalog.list_files()
        for attempt in catalog.attempts(record.id)
        if attempt.outcome == "failed"
    )
    assert dict(failed_attempts) == {"server": retried, "integrity": retried}
    assert summary.retries == {}
    assert (summary.integrity_refetched, summary.sources_switched) == (0, 0)
    snap = board.snapshot()
    assert (snap.files_done, snap.files_retrying, snap.files_failed) == (len(specs) - 2, 0, 2)


async def test_a_file_waiting_for_its_retry_is_retrying_until_the_run_leaves_it_failed(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    # Every answer is 503 with Retry-After one hour: too far for the run to wait.
    sim.set_faults(FaultConfig(p503=1.0, retry_after_503=3600))
    smallest = min(specs_from(sim), key=lambda spec: spec.size or 0)
    _register(catalog, [smallest], tmp_path / "out")
    seen: list[ProgressSnapshot] = []

    class Recorded(ProgressBoard):
        def retry_file(self, key: str) -> None:
            super().retry_file(key)
            seen.append(self.snapshot())

    board = Recorded(time.monotonic)
    summary = await run_download(catalog, FAST, board=board)
    assert (summary.failed, summary.abandoned, summary.retries) == (1, 0, {})  # none repaired
    [waiting] = seen
    assert (waiting.files_retrying, waiting.files_failed) == (1, 0)
    ended = board.snapshot()
    assert (ended.files_retrying, ended.files_failed) == (0, 1)


# --- what a file that does not arrive leaves on disk (issue 13, section 4) ----------------


class _Refusing(BaseHTTPRequestHandler):
    """Answers every request by its path: an error status, or a redirect to itself."""

    def do_GET(self) -> None:
        status = int(self.path.strip("/").split("/")[0])
        self.send_response(status)
        if status == 302:
            self.send_header("Location", self.path)  # a redirect loop
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("status", [404, 401, 302])
async def test_a_refused_request_leaves_no_part_file(
    catalog: Catalog, tmp_path: Path, status: int
) -> None:
    server = LoopbackHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{status}/f.fits"
        _register(catalog, [FileSpec(url=url, path="f.fits")], tmp_path / "out")
        summary = await run_download(catalog, FAST)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert summary.downloaded == 0 and len(summary.failures) == 1
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


async def test_an_abandoned_file_keeps_no_bytes_on_disk(
    sim_root: Path, catalog: Catalog, tmp_path: Path
) -> None:
    spec = ArchiveSpec.exact(1, 2 * MIB, seed=41)
    with SimThread(SimConfig(archive=spec, root=sim_root)) as breaking:
        breaking.set_faults(FaultConfig(drop_after=100 * KIB))  # every request breaks
        _register(catalog, specs_from(breaking), tmp_path / "out")
        summary = await run_download(catalog, replace(FAST, max_attempts=1))
        assert breaking.stats.snapshot().bytes_sent > 0
    assert summary.abandoned == 1
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []
