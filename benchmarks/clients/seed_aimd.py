"""The seed's records downloader (seed 001), rebuilt as the baseline of scenario (g).

``python -m benchmarks.clients.seed_aimd URL_LIST``: fetch every URL of the list (one chunk
window each) and print a JSON line of what it took.

Rules (``/work/shared/ANCHORS.md`` and the seed's ``DownloadRunConfig`` defaults):
- A pool of 4 worker threads (``max_concurrent_requests=4``) fetches the chunks; each
  thread keeps one keep-alive connection (``http.client``: ``requests`` is not installed
  here, and the seed's ``requests`` calls were plain GETs).
- One AIMD controller, shared by every worker, spaces request starts ``1 / rate`` apart.
  The rate starts at 5 req/s, gains 1 after every success, halves after a 429 or a
  connection error, and stays within [5, 25]: its floor is its start, so it never backs
  off below where it began.
- ``Retry-After`` is ignored. A refused chunk is asked for again at once, under the
  controller's spacing, until it is answered; a connection error is retried the same
  way, up to ``MAX_CONNECTION_ERRORS`` per chunk. Any other status fails the chunk.
- Each body is parsed as JSON (the seed turned it into records); nothing is written.
- Time and sleep are parameters of the controller.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["AimdRate", "ChunkError", "SeedOutcome", "fetch_chunks"]

WORKERS = 4
MAX_CONNECTION_ERRORS = 20
_TIMEOUT_S = 60.0


@dataclass
class AimdRate:
    """The seed's rate controller: additive increase per success, halving on a refusal."""

    rate: float = 5.0
    increase: float = 1.0
    decrease: float = 0.5
    floor: float = 5.0
    ceiling: float = 25.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _next: float = field(default=float("-inf"), init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def wait(self) -> None:
        """Block until this request's start, ``1 / rate`` after the previous one's."""
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        if start > now:
            self.sleep(start - now)

    def on_success(self) -> None:
        """+``increase`` req/s, up to ``ceiling``."""
        with self._lock:
            self.rate = min(self.ceiling, self.rate + self.increase)

    def on_refusal(self) -> None:
        """x``decrease``, down to ``floor`` (a 429 or a connection error)."""
        with self._lock:
            self.rate = max(self.floor, self.rate * self.decrease)


class ChunkError(Exception):
    """A chunk answered with a status other than 200 or 429, or unreachable too often."""


@dataclass(frozen=True, slots=True)
class SeedOutcome:
    """What fetching the chunks took, as the client counted it."""

    chunks: int
    requests: int
    throttled: int
    connection_errors: int
    records: int
    seconds: float

    def as_json(self) -> dict[str, object]:
        """The outcome as a JSON-ready dictionary."""
        return {
            "chunks": self.chunks,
            "requests": self.requests,
            "throttled": self.throttled,
            "connection_errors": self.connection_errors,
            "records": self.records,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class _Chunk:
    requests: int
    throttled: int
    connection_errors: int
    records: int


class _Connections:
    """One keep-alive connection per worker thread, all closed at the end."""

    def __init__(self, netloc: str) -> None:
        self._netloc = netloc
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def get(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self._netloc, timeout=_TIMEOUT_S)
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def drop(self) -> None:
        """Close this thread's connection after an error; the next ``get`` opens anew."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def close_all(self) -> None:
        with self._lock:
            for conn in self._opened:
                conn.close()


def fetch_chunks(
    urls: Sequence[str], *, rate: AimdRate | None = None, budget: float | None = None
) -> SeedOutcome:
    """Fetch every URL as the seed did; raise :class:`ChunkError` on the first failed chunk.

    Parameters
    ----------
    urls : sequence of str
        One URL per chunk window, all on one host.
    rate : AimdRate, optional
        The controller (default: the seed's defaults).
    budget : float, optional
        Seconds after which no new chunk starts (chunks in flight finish).

    Returns
    -------
    SeedOutcome
        Chunks, requests, 429s, connection errors, records, and the wall seconds.
    """
    controller = rate or AimdRate()
    connections = _Connections(urlsplit(urls[0]).netloc if urls else "")
    began = time.perf_counter()
    deadline = None if budget is None else began + budget

    def fetch(url: str) -> _Chunk:
        if deadline is not None and time.perf_counter() > deadline:
            return _Chunk(0, 0, 0, 0)
        return _fetch(url, connections, controller)

    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            chunks = list(pool.map(fetch, urls))
    finally:
        connections.close_all()
    return SeedOutcome(
        chunks=sum(1 for c in chunks if c.requests),
        requests=sum(c.requests for c in chunks),
        throttled=sum(c.throttled for c in chunks),
        connection_errors=sum(c.connection_errors for c in chunks),
        records=sum(c.records for c in chunks),
        seconds=time.perf_counter() - began,
    )


def _fetch(url: str, connections: _Connections, rate: AimdRate) -> _Chunk:
    parts = urlsplit(url)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    requests = throttled = errors = 0
    while True:
        rate.wait()
        try:
            conn = connections.get()
            conn.request("GET", target, headers={"Accept": "application/json"})
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            connections.drop()
            rate.on_refusal()
            errors += 1
            if errors >= MAX_CONNECTION_ERRORS:
                raise ChunkError(f"{url}: {errors} connection errors, last {exc!r}") from exc
            continue
        requests += 1
        if response.status == 429:
            throttled += 1
            rate.on_refusal()
            continue
        if response.status != 200:
            raise ChunkError(f"{url}: HTTP {response.status}")
        rate.on_success()
        return _Chunk(requests, throttled, errors, len(json.loads(body)))


def main(argv: list[str] | None = None) -> int:
    """Fetch the URLs of the list; print the outcome as JSON; return 0 (1 on a failed chunk)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url_list", type=Path, help="one chunk URL per line")
    args = parser.parse_args(argv)
    urls = [line.strip() for line in args.url_list.read_text().splitlines() if line.strip()]
    try:
        outcome = fetch_chunks(urls)
    except ChunkError as error:
        print(f"seed_aimd: {error}", file=sys.stderr)
        return 1
    print(json.dumps(outcome.as_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
