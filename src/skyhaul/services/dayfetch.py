"""Fetching one day of a records API: its chunks, concurrently, under the host's controller.

Rules:
- Every request passes the host's gate (:class:`skyhaul.services.hostgate.HostGate`): the
  adaptive controller decides how many are in flight and how fast they start; 429 and 503
  slow it down, ``Retry-After`` pauses the host.
- A throttled request is not a failed one: it goes back to the gate (which waits as the
  server asked) and tries again, up to ``MAX_THROTTLES`` times. A server asking to wait
  longer than the source's ``max_wait`` fails the day at once, saying so (the gate would
  refuse every later request of the day anyway). Other retryable failures
  (5xx, resets, timeouts) are retried by the retry policy with backoff and full jitter,
  up to the source's ``attempts``; a permanent one (404, 400), or one whose wait is longer
  than ``max_wait``, fails the day at once.
- Each chunk is parsed and spooled to disk as soon as it arrives (memory holds about one
  chunk per worker, never a day); parsing runs in a worker thread.
- The first chunk that fails cancels the others: the day is FAILED either way.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from skyhaul.adapters.records_store import ChunkSpool, parse_chunk
from skyhaul.adapters.sources.records_api import RecordsApiSettings, RecordsClient
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.retry import RetryPolicy, wait_too_long
from skyhaul.errors import TransferError
from skyhaul.services.hostgate import HostGate

__all__ = ["MAX_THROTTLES", "DayFetch", "fetch_day"]

log = logging.getLogger("skyhaul.backfill")

#: Refusals for load one chunk may meet before its day fails: a server that never admits
#: it is down for us, not slow.
MAX_THROTTLES = 100

Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class DayFetch:
    """Counters of one day's requests (read by the ledger row, the summary and progress)."""

    requests: int = 0
    throttled: int = 0
    records: int = 0
    received: int = 0
    """Bytes of the answers spooled (the bodies as the server sent them)."""
    chunks_done: int = 0
    chunks: int = 0


async def fetch_day(
    client: RecordsClient,
    gate: HostGate,
    settings: RecordsApiSettings,
    windows: list[tuple[datetime, datetime]],
    spool: ChunkSpool,
    *,
    counters: DayFetch | None = None,
    on_chunk: Callable[[DayFetch], None] | None = None,
    sleep: Sleep = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> DayFetch:
    """Fetch every window into ``spool`` (chunk ``i`` holds window ``i``).

    Parameters
    ----------
    client : RecordsClient
        The API's HTTP seam.
    gate : HostGate
        The endpoint host's gate.
    settings : RecordsApiSettings
        Query template, time field, attempts, concurrency.
    windows : list of (datetime, datetime)
        The day's chunks, in time order.
    spool : ChunkSpool
        Where each parsed chunk goes.
    counters : DayFetch, optional
        Filled in as requests go (the caller still sees them if the day fails).
    on_chunk : callable, optional
        Called with the counters after each chunk is spooled (for progress).
    sleep, rand
        Injected for tests.

    Returns
    -------
    DayFetch
        Requests, throttled requests and records of the day.

    Raises
    ------
    TransferError, PayloadError, SourceAuthError
        The first chunk that could not be fetched or parsed.
    """
    counts = counters if counters is not None else DayFetch()
    counts.chunks = len(windows)
    # The day's rate control paces retries too: keep its backoff as it was tuned.
    policy = RetryPolicy(
        max_attempts=settings.attempts, base_delay=0.5, max_delay=30.0, first_retry=0.5
    )
    pending = iter(range(len(windows)))  # shared: each worker takes the next chunk

    async def fetch_one(index: int) -> None:
        start, end = windows[index]
        url = settings.chunk_url(start, end)
        where = f"{settings.name} {start:%Y-%m-%dT%H:%M}Z..{end:%H:%M}Z"
        failures = throttles = 0
        while True:
            started = await gate.acquire()
            counts.requests += 1
            try:
                body = await client.fetch(url)
            except TransferError as exc:
                gate.release(started, exc)
                if exc.error_class is ErrorClass.THROTTLED:
                    counts.throttled += 1
                    throttles += 1
                    asked = exc.retry_after or 0.0
                    if asked > settings.max_wait:
                        raise _waits_too_long(exc, asked, settings.max_wait) from None
                    if throttles < MAX_THROTTLES:
                        continue  # the gate waits as long as the server asked
                    raise
                failures += 1
                decision = policy.decide(
                    exc.error_class, failures, retry_after=exc.retry_after, random=rand
                )
                if not decision.retry:
                    raise
                if not decision.within(settings.max_wait):
                    raise _waits_too_long(exc, decision.delay, settings.max_wait) from None
                log.debug("%s: %s", where, decision.reason)
                await sleep(decision.delay)
                continue
            except BaseException as exc:
                gate.release(started, exc)
                raise
            gate.release(started)
            records = await asyncio.to_thread(
                _spool_chunk, spool, index, body, windows[index], settings.time_field, where
            )
            counts.records += records
            counts.received += len(body)
            counts.chunks_done += 1
            if on_chunk is not None:
                on_chunk(counts)
            return

    async def worker() -> None:
        for index in pending:
            await fetch_one(index)

    count = min(settings.concurrency, len(windows))
    workers = [asyncio.ensure_future(worker()) for _ in range(count)]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return counts


def _waits_too_long(error: TransferError, delay: float, longest: float) -> TransferError:
    """``error``, saying that its wait is longer than the source's ``max_wait``."""
    message = f"{error.message} ({wait_too_long(delay, longest)})"
    return type(error)(message, error.retry_after, error.status)


def _spool_chunk(
    spool: ChunkSpool,
    index: int,
    body: bytes,
    window: tuple[datetime, datetime],
    time_field: str,
    where: str,
) -> int:
    records = parse_chunk(body, time_field=time_field, window=window, where=where)
    spool.write(index, records)
    return len(records)
