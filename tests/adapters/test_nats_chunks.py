"""The NATS JetStream chunk transport against the real server on 127.0.0.1:4222.

Each test has a stream of its own, deleted afterwards. Without the server the tests skip,
except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import nats
import pytest

from skyhaul.adapters.nats_chunks import NatsChunkTransport, NatsSettings
from skyhaul.core import streamchunks as sc
from skyhaul.errors import BrokerUnavailableError
from skyhaul.ports.chunks import ChunkConsumer, ConsumerSettings, Delivery, StoredChunk

SETTINGS = NatsSettings(timeout=5.0, duplicate_window=60.0)
CONSUMER = ConsumerSettings(ack_wait=10.0, max_deliver=5, max_ack_pending=100)


@pytest.fixture
async def transport(nats_url: str, stream_name: str) -> AsyncIterator[NatsChunkTransport]:
    opened = await NatsChunkTransport.connect(nats_url, stream_name, SETTINGS)
    await opened.ensure_stream()
    try:
        yield opened
    finally:
        await opened.delete_stream()
        await opened.close()


def _chunks(path: str, content: bytes, chunk_size: int) -> list[tuple[sc.ChunkMeta, bytes]]:
    plan = sc.plan_chunks(len(content), chunk_size)
    out = []
    for span in plan:
        data = content[span.offset : span.offset + span.length]
        meta = sc.ChunkMeta(
            path=path,
            generation=1,
            file_hash=sc.digest(content),
            chunk_hash=sc.digest(data),
            offset=span.offset,
            index=span.index,
            count=len(plan),
            size=len(content),
            mtime_ns=1_700_000_000_000_000_000,
        )
        out.append((meta, data))
    return out


async def _publish(transport: NatsChunkTransport, meta: sc.ChunkMeta, data: bytes) -> bool:
    receipt = await transport.publish(
        sc.file_token(meta.path), sc.to_headers(meta), data, sc.message_id(meta)
    )
    return receipt.duplicate


async def _fetch_until(
    consumer: ChunkConsumer, count: int, deadline_s: float = 15.0
) -> list[Delivery]:
    got: list[Delivery] = []
    deadline = time.monotonic() + deadline_s
    while len(got) < count:
        assert time.monotonic() < deadline, f"only {len(got)} of {count} deliveries came"
        got += await consumer.fetch(count - len(got), max_wait=1.0)
    return got


async def test_published_chunks_arrive_intact_and_acknowledged_ones_never_again(
    transport: NatsChunkTransport,
) -> None:
    await transport.ensure_stream()  # a second time: idempotent
    sent = _chunks("a/x.fits", b"0123456789" * 3, 8) + _chunks("b.txt", b"", 8)
    for meta, data in sent:
        assert not await _publish(transport, meta, data)

    consumer = await transport.consumer("receivers", CONSUMER)
    deliveries = await _fetch_until(consumer, len(sent))
    received = [(sc.from_headers(d.chunk.headers), d.chunk.data) for d in deliveries]
    assert received == sent
    assert [d.attempt for d in deliveries] == [1] * len(sent)
    for delivery in deliveries:
        await delivery.ack()
    await consumer.close()

    # A receiver of the same group, opened afresh, finds nothing left to do.
    again = await transport.consumer("receivers", CONSUMER)
    assert await again.fetch(10, max_wait=0.5) == []
    await again.close()


async def test_a_repeated_message_id_is_dropped_by_the_server(
    transport: NatsChunkTransport,
) -> None:
    [(meta, data)] = _chunks("dup.bin", b"payload", 1024)
    assert not await _publish(transport, meta, data)
    assert await _publish(transport, meta, data)  # the server says: duplicate

    consumer = await transport.consumer("receivers", CONSUMER)
    [delivery] = await _fetch_until(consumer, 1)
    await delivery.ack()
    assert await consumer.fetch(10, max_wait=0.5) == []
    await consumer.close()


async def test_a_refused_chunk_comes_again_after_its_delay(
    transport: NatsChunkTransport,
) -> None:
    [(meta, data)] = _chunks("nak.bin", b"payload", 1024)
    await _publish(transport, meta, data)
    consumer = await transport.consumer("receivers", CONSUMER)
    [first] = await _fetch_until(consumer, 1)
    refused_at = time.monotonic()
    await first.nak(delay=1.0)

    [second] = await _fetch_until(consumer, 1)
    assert time.monotonic() - refused_at >= 0.9, "redelivered before its delay"
    assert second.attempt == 2
    assert second.chunk == first.chunk
    await second.ack()
    await consumer.close()


async def test_one_files_chunks_are_replayed_alone_whatever_the_groups_did(
    transport: NatsChunkTransport,
) -> None:
    wanted = _chunks("wanted.dat", bytes(range(200)), 64)
    other = _chunks("other.dat", b"x" * 100, 64)
    for meta, data in [*other[:1], *wanted, *other[1:]]:
        await _publish(transport, meta, data)
    consumer = await transport.consumer("receivers", CONSUMER)
    for delivery in await _fetch_until(consumer, len(wanted) + len(other)):
        await delivery.ack()

    replayed: list[StoredChunk] = [
        chunk async for chunk in transport.replay(sc.file_token("wanted.dat"))
    ]
    assert [(sc.from_headers(c.headers), c.data) for c in replayed] == wanted
    assert [c async for c in transport.replay(sc.file_token("absent.dat"))] == []
    # The group's progress is untouched: everything stays acknowledged.
    assert await consumer.fetch(10, max_wait=0.5) == []
    await consumer.close()


async def test_a_stream_of_that_name_with_other_subjects_is_refused(
    nats_url: str, stream_name: str
) -> None:
    client = await nats.connect(nats_url)
    js = client.jetstream()
    await js.add_stream(name=stream_name, subjects=[f"elsewhere-{stream_name}"])
    transport = await NatsChunkTransport.connect(nats_url, stream_name, SETTINGS)
    try:
        with pytest.raises(BrokerUnavailableError, match="exists with subjects"):
            await transport.ensure_stream()
    finally:
        await js.delete_stream(stream_name)
        await transport.close()
        await client.close()


async def test_a_stream_of_that_name_with_our_subjects_is_kept_as_it_is(
    nats_url: str, stream_name: str
) -> None:
    client = await nats.connect(nats_url)
    js = client.jetstream()
    subjects = [sc.stream_subjects(stream_name)]
    await js.add_stream(name=stream_name, subjects=subjects, duplicate_window=7.0)
    transport = await NatsChunkTransport.connect(nats_url, stream_name, SETTINGS)
    try:
        await transport.ensure_stream()  # other settings than ours: kept, no error
        info = await js.stream_info(stream_name)
        assert info.config.duplicate_window == 7.0 and info.config.subjects == subjects
    finally:
        await js.delete_stream(stream_name)
        await transport.close()
        await client.close()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("nats://127.0.0.1:1", "cannot reach the broker at nats://127.0.0.1:1"),
        ("http://127.0.0.1:4222", "not a NATS URL"),
    ],
)
async def test_an_unreachable_broker_is_one_line_at_once(url: str, words: str) -> None:
    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError, match=words) as caught:
        await NatsChunkTransport.connect(url, "any", NatsSettings(timeout=2.0))
    assert time.monotonic() - started < 2.0
    assert "\n" not in str(caught.value) and caught.value.exit_code == 2


async def test_a_terminated_chunk_never_comes_again_and_one_in_progress_comes_later(
    transport: NatsChunkTransport,
) -> None:
    for name in ("terminated", "forgotten", "working"):
        [(meta, data)] = _chunks(name, name.encode(), 1024)
        await _publish(transport, meta, data)
    settings = ConsumerSettings(ack_wait=3.0, max_deliver=5, max_ack_pending=100)
    consumer = await transport.consumer("receivers", settings)
    terminated, forgotten, working = await _fetch_until(consumer, 3)
    fetched_at = time.monotonic()
    await terminated.term()
    await asyncio.sleep(1.0)  # the server's clock runs the ack wait: nothing to inject
    await working.in_progress()  # its ack wait starts again: due ~1 s after forgotten's

    [again] = await _fetch_until(consumer, 1)
    assert again.chunk == forgotten.chunk and again.attempt == 2
    assert time.monotonic() - fetched_at >= 2.5, "redelivered before its ack wait"
    [later] = await _fetch_until(consumer, 1)
    assert later.chunk == working.chunk, "the terminated chunk came again"
    for delivery in (again, later):
        await delivery.ack()
    assert await consumer.fetch(10, max_wait=0.5) == []
    await consumer.close()
