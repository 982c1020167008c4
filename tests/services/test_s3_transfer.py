"""s3:// files through the engine: the S3 simulator (moto behind the fault proxy).

Large objects come in parallel ranges and are verified; a run killed halfway resumes from
the segment map; an object uploaded again between two runs is fetched again from byte 0.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileSpec, Selection, TransferOptions
from skyhaul.services.acquire import run_download

from .conftest import KIB, MIB, NOW, Mirrored, assert_catalog_truthful


async def test_a_100_mib_object_comes_in_parallel_ranges_and_is_verified(
    mirrored: Mirrored, catalog: Catalog, tmp_path: Path
) -> None:
    [big] = mirrored.files(100 * MIB)
    url = mirrored.s3_url(big)
    catalog.register(
        [FileSpec(url, big.path, big.size, f"sha256:{big.sha256}")], str(tmp_path), now=NOW
    )
    options = TransferOptions(concurrency=4, max_per_host=8, segment_size=8 * MIB)
    mirrored.s3.stats.reset()
    summary = await run_download(catalog, options)
    assert summary.downloaded == 1, summary.failures
    assert_catalog_truthful(catalog)
    data = (tmp_path / big.path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == big.sha256
    stats = mirrored.s3.stats.snapshot()
    assert stats.ranged == -(-big.size // options.segment_size)  # 13 ranges, each once
    assert stats.bytes_by_path[big.path] == big.size
    assert stats.peak_open >= 4, "the ranges did not overlap"


def _skyhaul(*args: str) -> list[str]:
    return [sys.executable, "-c", "from skyhaul.cli.app import main; main()", *args]


def test_a_run_killed_halfway_resumes_from_the_segment_map(
    mirrored: Mirrored, tmp_path: Path
) -> None:
    files = mirrored.files(2 * MIB)[7:11]
    total = sum(f.size for f in files)
    segment = 256 * KIB
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["url", "path", "size", "checksum"])
        for f in files:
            writer.writerow([mirrored.s3_url(f), f.path, f.size, f"sha256:{f.sha256}"])
    catalog_path = tmp_path / "catalog.db"
    command = _skyhaul(
        "get", "-i", str(manifest), "-d", str(tmp_path / "out"), "--catalog", str(catalog_path),
        "-j", "4", "--max-per-host", "8", "--segment-size", "256KiB", "--no-progress",
    )  # fmt: skip

    def sent() -> dict[str, int]:
        by_path = mirrored.s3.stats.snapshot().bytes_by_path
        return {f.path: by_path.get(f.path, 0) for f in files}

    before = sent()
    mirrored.s3.set_faults(bandwidth=512 * KIB)
    # The child inherits the test's AWS environment: the simulator's endpoint, unsigned.
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while sum(sent().values()) - sum(before.values()) < total // 2:
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline, "the first run made no progress"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    if child.stderr:
        child.stderr.close()
    first = {path: n - before[path] for path, n in sent().items()}

    with open_catalog(f"sqlite:///{catalog_path}") as catalog:
        done = catalog.list_files(Selection(states=frozenset({FileState.DOWNLOADED})))
        durable = {r.path: catalog.segments(r.id) for r in catalog.list_files()}
    in_flight = [f for f in files if first[f.path] and f.path not in {r.path for r in done}]
    assert in_flight, first
    assert any(durable[f.path] for f in in_flight), "nothing durable to resume from"

    mirrored.s3.set_faults(bandwidth=None)
    again = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    second = {path: n - before[path] - first[path] for path, n in sent().items()}

    with open_catalog(f"sqlite:///{catalog_path}") as catalog:
        assert_catalog_truthful(catalog)
        assert len(catalog.list_files(Selection(states=frozenset({FileState.DOWNLOADED})))) == 4
    for f in files:
        data = (tmp_path / "out" / f.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256
        # Each file was sent once, plus at most about a segment lost to the kill.
        assert first[f.path] + second[f.path] <= f.size + segment + 64 * KIB, f.path
    assert sum(first.values()) + sum(second.values()) <= total + len(in_flight) * segment


async def _interrupt_when(
    catalog: Catalog, options: TransferOptions, sent: Callable[[], int], at: int
) -> None:
    """Run the engine and cancel it once the S3 side has sent ``at`` bytes of the file."""
    cancel = asyncio.Event()
    run = asyncio.ensure_future(run_download(catalog, options, cancel=cancel))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    # Polls a counter owned by the simulator's thread (no event to await across threads).
    while sent() < at:
        assert not run.done(), run.result()
        assert loop.time() < deadline, "the run made no progress"
        await asyncio.sleep(0.02)
    cancel.set()
    assert (await run).interrupted


def _etag(side: Mirrored, key: str) -> str:
    return next(o.etag for o in side.s3.objects() if o.key == key)


@pytest.mark.parametrize("interrupted", [False, True], ids=["at-once", "restart-interrupted"])
async def test_an_object_uploaded_again_is_fetched_again_from_byte_0(
    mirrored: Mirrored, catalog: Catalog, tmp_path: Path, interrupted: bool
) -> None:
    # No other test reads these files: their objects change here (and get another size).
    f = mirrored.files(2 * MIB)[12 if interrupted else 11]
    url = mirrored.s3_url(f)
    catalog.register([FileSpec(url, f.path)], str(tmp_path), now=NOW)
    options = TransferOptions(concurrency=1, max_per_host=4, segment_size=256 * KIB)

    def sent() -> int:
        return mirrored.s3.stats.snapshot().bytes_by_path.get(f.path, 0)

    mirrored.s3.set_faults(bandwidth=256 * KIB)
    await _interrupt_when(catalog, options, sent, 512 * KIB)
    [record] = catalog.list_files()
    old_etag = _etag(mirrored, f.path)
    assert record.validator == old_etag
    assert catalog.segments(record.id)

    changed = mirrored.s3.change_object(f.path)
    assert changed.etag != old_etag and changed.version.sha256 != f.sha256
    refused = mirrored.s3.stats.snapshot().by_status.get(412, 0)
    sent_before = sent()
    if interrupted:
        # Stopped while the new object streams from byte 0: what the next attempt
        # resumes must be the new object, of its new size.
        await _interrupt_when(catalog, options, sent, sent_before + 256 * KIB)
        [record] = catalog.list_files()
        assert (record.validator, record.size) == (changed.etag, changed.size)
    mirrored.s3.set_faults(bandwidth=None)
    summary = await run_download(catalog, options)
    assert summary.downloaded == 1, summary.failures
    assert_catalog_truthful(catalog)
    # The resume's If-Match was refused, and the whole new object came from byte 0.
    assert mirrored.s3.stats.snapshot().by_status.get(412, 0) > refused
    assert sent() - sent_before >= changed.size
    [record] = catalog.list_files()
    assert record.sha256 == changed.version.sha256
    assert record.validator == changed.etag
    data = (tmp_path / f.path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == changed.version.sha256


async def test_an_s3_body_under_the_minimum_speed_fails_as_a_read_timeout(
    mirrored: Mirrored, catalog: Catalog, tmp_path: Path
) -> None:
    # The bounds of an HTTP body hold for an S3 one: both pass through one rule.
    f = mirrored.files(64 * KIB)[3]
    url = mirrored.s3_url(f)
    catalog.register([FileSpec(url, f.path, f.size)], str(tmp_path), now=NOW)
    mirrored.s3.set_faults(bandwidth=4 * KIB)
    options = TransferOptions(max_attempts=1, min_speed=64 * KIB, min_speed_time=0.5)
    summary = await asyncio.wait_for(run_download(catalog, options), 30)
    [failure] = summary.failures
    assert failure.error_class == "read_timeout"
    assert "slower than 64.0 KiB/s for 0.5s" in failure.message
