"""Counters of what the simulator served, readable from any thread.

Rules:
- Every request to ``/files/`` and ``/api/`` is counted; the control plane (``/_sim/``)
  is not, so polling the counters does not change them.
- Body bytes are counted as they are handed to the connection (for ``sendfile``, the
  whole range once it is sent), per archive path for files and per URL path otherwise.
- ``/api/records`` has counters of its own besides: requests, 429s, and records served in
  200 answers (a malformed body serves none).
- The most requests answered at once (``peak_open``) is counted by the S3 fault proxy,
  whose handler sends the whole answer; the HTTP simulator's ``sendfile`` bodies leave
  after its handler returns, so it does not count them.
- Updates and snapshots take one lock: the server's loop writes while test threads read.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StatsSnapshot:
    """The counters at one moment.

    Parameters
    ----------
    requests : int
        Requests received.
    by_status : dict of int to int
        Responses per status code.
    by_method : dict of str to int
        Requests per HTTP method.
    bytes_sent : int
        Body bytes sent in all.
    bytes_by_path : dict of str to int
        Body bytes sent per archive path (files) or URL path (API).
    rate_limited : int
        Requests refused with 429.
    ranged : int
        Requests that carried a ``Range`` header.
    dropped : int
        Responses whose connection was closed mid-body on purpose.
    corrupted : int
        Responses whose body had bytes flipped on purpose.
    changed : int
        Times a file got new content (a new generation).
    records_requests : int
        Requests to ``/api/records``.
    records_throttled : int
        Requests to ``/api/records`` answered 429.
    records_served : int
        Records sent in 200 answers of ``/api/records``.
    peak_open : int
        The most requests being answered at once since the last reset (S3 proxy only).
    """

    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    by_method: dict[str, int] = field(default_factory=dict)
    bytes_sent: int = 0
    bytes_by_path: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    ranged: int = 0
    dropped: int = 0
    corrupted: int = 0
    changed: int = 0
    records_requests: int = 0
    records_throttled: int = 0
    records_served: int = 0
    peak_open: int = 0

    def to_json(self) -> dict[str, object]:
        """Return the counters as a JSON-ready mapping (status codes as strings)."""
        return {
            "requests": self.requests,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_method": dict(sorted(self.by_method.items())),
            "bytes_sent": self.bytes_sent,
            "bytes_by_path": dict(sorted(self.bytes_by_path.items())),
            "rate_limited": self.rate_limited,
            "ranged": self.ranged,
            "dropped": self.dropped,
            "corrupted": self.corrupted,
            "changed": self.changed,
            "records_requests": self.records_requests,
            "records_throttled": self.records_throttled,
            "records_served": self.records_served,
            "peak_open": self.peak_open,
        }


class SimStats:
    """Live counters of a running simulator; :meth:`snapshot` reads them all at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0
        self._reset()

    def _reset(self) -> None:
        self._requests = 0
        self._by_status: Counter[int] = Counter()
        self._by_method: Counter[str] = Counter()
        self._bytes_by_path: Counter[str] = Counter()
        self._ranged = 0
        self._events: Counter[str] = Counter()
        self._peak_open = self._open  # requests still open stay counted

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._reset()

    def record_request(self, method: str, ranged: bool) -> None:
        """Count a request as it arrives."""
        with self._lock:
            self._requests += 1
            self._by_method[method] += 1
            self._ranged += ranged

    def record_open(self, delta: int) -> None:
        """A request starts being answered (``+1``) or its answer is sent (``-1``)."""
        with self._lock:
            self._open += delta
            self._peak_open = max(self._peak_open, self._open)

    def record_status(self, status: int) -> None:
        """Count a response's status code."""
        with self._lock:
            self._by_status[status] += 1

    def record_bytes(self, path: str, nbytes: int) -> None:
        """Count body bytes handed to a connection."""
        with self._lock:
            self._bytes_by_path[path] += nbytes

    def record_event(self, event: str, count: int = 1) -> None:
        """Count a deliberate fault (``"dropped"``, ``"corrupted"``, ``"changed"``) or a
        records API event (``"records_requests"``, ``"records_throttled"``,
        ``"records_served"``, which counts ``count`` records)."""
        with self._lock:
            self._events[event] += count

    def snapshot(self) -> StatsSnapshot:
        """Return a consistent copy of every counter."""
        with self._lock:
            return StatsSnapshot(
                requests=self._requests,
                by_status=dict(self._by_status),
                by_method=dict(self._by_method),
                bytes_sent=sum(self._bytes_by_path.values()),
                bytes_by_path=dict(self._bytes_by_path),
                rate_limited=self._by_status[429],
                ranged=self._ranged,
                dropped=self._events["dropped"],
                corrupted=self._events["corrupted"],
                changed=self._events["changed"],
                records_requests=self._events["records_requests"],
                records_throttled=self._events["records_throttled"],
                records_served=self._events["records_served"],
                peak_open=self._peak_open,
            )

    @property
    def requests(self) -> int:
        """Requests received so far."""
        with self._lock:
            return self._requests

    @property
    def bytes_sent(self) -> int:
        """Body bytes sent so far."""
        with self._lock:
            return sum(self._bytes_by_path.values())
