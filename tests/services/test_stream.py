"""Files streamed end to end through the real NATS server: send a directory, receive it.

Each test has a stream of its own, deleted afterwards. Without the server the tests skip,
except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from skyhaul.adapters.nats_chunks import NatsChunkTransport, NatsSettings
from skyhaul.core import streamchunks as sc
from skyhaul.ports.chunks import ConsumerSettings
from skyhaul.services.stream_receive import ReceiveOptions, Receiver
from skyhaul.services.stream_send import SendOptions, send_directory, send_file
from skyhaul.services.stream_watch import DirectoryFollower

KIB = 1024
#: Small chunks, so that ~20 small files still make multi-chunk files on loopback.
SEND = SendOptions(chunk_size=64 * KIB)
RECEIVE = ReceiveOptions(
    group="lab",
    consumer=ConsumerSettings(ack_wait=10.0, max_deliver=10, max_ack_pending=512),
    max_wait=0.3,
    refuse_delay=0.2,
    idle_exit=1.0,
)


@pytest.fixture
async def transport(nats_url: str, stream_name: str) -> AsyncIterator[NatsChunkTransport]:
    opened = await NatsChunkTransport.connect(nats_url, stream_name, NatsSettings(timeout=5.0))
    await opened.ensure_stream()
    try:
        yield opened
    finally:
        await opened.delete_stream()
        await opened.close()


def _make_files(root: Path, seed: int = 3) -> dict[str, bytes]:
    rng = random.Random(seed)
    sizes = [0, 1, 64 * KIB, 64 * KIB + 1, 700 * KIB] + [
        rng.randrange(0, 600 * KIB) for _ in range(15)
    ]
    files = {}
    for n, size in enumerate(sizes):
        relative = f"run{n % 3}/obs {n}.dat" if n % 2 else f"top-{n}.bin"
        content = rng.randbytes(size)
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
        files[relative] = content
    return files


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def test_a_directory_arrives_byte_identical_and_a_second_send_adds_nothing(
    transport: NatsChunkTransport, tmp_path: Path
) -> None:
    source, destination = tmp_path / "source", tmp_path / "received"
    source.mkdir()
    files = _make_files(source)

    sent = await send_directory(transport, source, SEND)
    expected_chunks = sum(len(sc.plan_chunks(len(c), SEND.chunk_size)) for c in files.values())
    assert (len(sent.files), sent.chunks, sent.duplicates, sent.changed) == (
        len(files),
        expected_chunks,
        0,
        [],
    )

    report = await asyncio.wait_for(Receiver(transport, destination, RECEIVE).run(), 60)
    assert sorted(report.completed) == sorted(files)
    assert (report.failed, report.refused, report.duplicates, report.skipped) == ({}, 0, 0, 0)
    assert _tree(destination) == files  # no part file left, every byte identical

    # Sent again within the duplicate window: the broker drops every chunk.
    again = await send_directory(transport, source, SEND)
    assert again.duplicates == again.chunks == expected_chunks
    second = await asyncio.wait_for(Receiver(transport, destination, RECEIVE).run(), 60)
    assert second.completed == [] and _tree(destination) == files


async def test_a_corrupt_chunk_is_refused_and_the_good_one_completes_the_file(
    transport: NatsChunkTransport, tmp_path: Path
) -> None:
    source, destination = tmp_path / "source", tmp_path / "received"
    source.mkdir()
    content = random.Random(5).randbytes(200 * KIB)
    (source / "x.fits").write_bytes(content)
    good = content[64 * KIB : 128 * KIB]
    meta = sc.ChunkMeta(
        path="x.fits",
        generation=1,
        file_hash=sc.digest(content),
        chunk_hash=sc.digest(good),
        offset=64 * KIB,
        index=1,
        count=4,
        size=len(content),
        mtime_ns=(source / "x.fits").stat().st_mtime_ns,
    )
    bad = bytes([good[0] ^ 0xFF]) + good[1:]
    # A test producer's corrupt copy, under an id of its own (the real one must pass).
    await transport.publish(sc.file_token("x.fits"), sc.to_headers(meta), bad, "corrupt-copy")
    receiver = Receiver(transport, destination, RECEIVE)
    running = asyncio.create_task(receiver.run())
    await send_directory(transport, source, SEND)

    report = await asyncio.wait_for(running, 60)
    assert report.completed == ["x.fits"] and report.failed == {}
    assert report.refused >= 1, "the corrupt chunk was written, not refused"
    assert (destination / "x.fits").read_bytes() == content


def _forged(content: bytes, offset: int, data: bytes, mtime_ns: int) -> sc.ChunkMeta:
    """A chunk of ``content``'s layout at ``offset`` carrying ``data`` and its own hash."""
    return sc.ChunkMeta(
        path="x.fits",
        generation=1,
        file_hash=sc.digest(content),
        chunk_hash=sc.digest(data),
        offset=offset,
        index=offset // SEND.chunk_size,
        count=len(sc.plan_chunks(len(content), SEND.chunk_size)),
        size=len(content),
        mtime_ns=mtime_ns,
    )


async def test_a_whole_file_mismatch_is_reread_from_the_stream(
    transport: NatsChunkTransport, tmp_path: Path
) -> None:
    source, destination = tmp_path / "source", tmp_path / "received"
    source.mkdir()
    content = random.Random(6).randbytes(200 * KIB)
    (source / "x.fits").write_bytes(content)
    # Consistent with its own hash but not with the file's: taken first, it passes the
    # chunk check, and the true chunk at that offset is then dropped as a duplicate.
    wrong = random.Random(7).randbytes(64 * KIB)
    meta = _forged(content, 64 * KIB, wrong, (source / "x.fits").stat().st_mtime_ns)
    await transport.publish(sc.file_token("x.fits"), sc.to_headers(meta), wrong, "forged")
    await send_directory(transport, source, SEND)

    report = await asyncio.wait_for(Receiver(transport, destination, RECEIVE).run(), 60)
    assert report.completed == ["x.fits"] and report.failed == {}
    assert report.duplicates == 1  # the true chunk, first dropped, then re-read
    assert (destination / "x.fits").read_bytes() == content


async def _send_version(
    transport: NatsChunkTransport, source: Path, name: str, content: bytes, mtime: int, gen: int
) -> None:
    path = source / name
    path.write_bytes(content)
    os.utime(path, ns=(mtime, mtime))
    sent = await send_file(transport, source, name, replace(SEND, generation=gen))
    assert not sent.changed


async def test_the_newer_generation_wins_in_whichever_order_they_come(
    transport: NatsChunkTransport, tmp_path: Path
) -> None:
    source, destination = tmp_path / "source", tmp_path / "received"
    source.mkdir()
    rng = random.Random(8)
    small, large = rng.randbytes(100 * KIB), rng.randbytes(300 * KIB)  # 2 and 5 chunks
    same_a, same_b = rng.randbytes(100 * KIB), rng.randbytes(100 * KIB)
    old, new = 1_700_000_000 * 10**9, 1_700_000_100 * 10**9
    # (name, first version sent, second version sent): the newer one must be kept.
    cases = [
        ("grows.bin", (small, old), (large, new)),
        ("shrank-late.bin", (large, new), (small, old)),
        ("same-size-newer.bin", (same_a, old), (same_b, new)),
        ("same-size-older.bin", (same_b, new), (same_a, old)),
    ]
    for name, first, second in cases:
        await _send_version(transport, source, name, *first, gen=1)
        await _send_version(transport, source, name, *second, gen=2)

    report = await asyncio.wait_for(Receiver(transport, destination, RECEIVE).run(), 60)
    assert report.failed == {} and report.errors == {}
    assert report.skipped == 2 + 2  # the stale versions' chunks, dropped
    assert _tree(destination) == {
        "grows.bin": large,
        "shrank-late.bin": large,
        "same-size-newer.bin": same_b,
        "same-size-older.bin": same_b,
    }


async def test_a_file_left_incomplete_when_idle_is_failed_not_waited_for(
    transport: NatsChunkTransport, tmp_path: Path
) -> None:
    content = random.Random(9).randbytes(200 * KIB)  # 4 chunks; only the first is sent
    first = content[: 64 * KIB]
    meta = _forged(content, 0, first, 1)
    await transport.publish(sc.file_token("x.fits"), sc.to_headers(meta), first, "only-one")

    report = await asyncio.wait_for(Receiver(transport, tmp_path, RECEIVE).run(), 60)
    assert report.completed == []
    assert report.failed == {
        "x.fits": "incomplete: 1 of 4 chunks came before the receiver went idle"
    }
    assert not (tmp_path / "x.fits").exists()


async def _until(condition: Callable[[], bool], what: str, deadline_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + deadline_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_followed_directory_sends_settled_files_and_rewrites_as_new_generations(
    transport: NatsChunkTransport, tmp_path: Path
) -> None:
    source, destination = tmp_path / "source", tmp_path / "received"
    source.mkdir()
    rng = random.Random(10)
    (source / "before.bin").write_bytes(old := rng.randbytes(90 * KIB))
    follower = DirectoryFollower(transport, source, SEND, settle=0.3)
    receiver = Receiver(transport, destination, replace(RECEIVE, idle_exit=None))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(follower.run(stop)), asyncio.create_task(receiver.run(stop))]
    try:
        await _until(lambda: _tree(destination) == {"before.bin": old}, "the file already there")
        (source / "later" / "x.bin").parent.mkdir()
        (source / "later" / "x.bin").write_bytes(first := rng.randbytes(100 * KIB))
        await _until(lambda: _tree(destination).get("later/x.bin") == first, "a new file")
        (source / "later" / "x.bin").write_bytes(second := rng.randbytes(300 * KIB))
        await _until(lambda: _tree(destination).get("later/x.bin") == second, "its rewrite")
    finally:
        stop.set()
        sent, _received = await asyncio.wait_for(asyncio.gather(*tasks), 30)
    by_path = sorted((f.path, f.generation, f.changed) for f in sent.files)
    assert by_path == [
        ("before.bin", 1, False),
        ("later/x.bin", 1, False),
        ("later/x.bin", 2, False),
    ]
