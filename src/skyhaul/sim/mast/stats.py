"""Counters of the simulated MAST's requests, readable from any thread.

Rules:
- Every request to a MAST endpoint is counted by endpoint: ``invoke``,
  ``columnsconfig``, ``resolver``, ``path_lookup``, ``download``, ``bundle``; invoke
  requests also by service and by the status answered (``COMPLETE``, ``EXECUTING``,
  ``ERROR``; a request that cannot be read counts as ``invalid``).
- Each path lookup's number of URIs is kept, in order, so a test can tell whether
  lookups were batched; each product's GETs and HEADs of ``Download/file`` are counted
  by URI. Body bytes are counted by the server's :class:`skyhaul.sim.stats.SimStats`,
  under the product's URI.
- Updates and snapshots take one lock: the server's loop writes while test threads read.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

ENDPOINTS = ("invoke", "columnsconfig", "resolver", "path_lookup", "download", "bundle")
"""The MAST endpoints counted."""


@dataclass(frozen=True)
class MastStatsSnapshot:
    """The counters at one moment.

    Parameters
    ----------
    requests : dict of str to int
        Requests per endpoint (:data:`ENDPOINTS`).
    services : dict of str to int
        ``/api/v0/invoke`` requests per service.
    answers : dict of str to int
        ``/api/v0/invoke`` answers per status.
    path_lookup_batches : tuple of int
        URIs in each path lookup request, in arrival order.
    downloads : dict of str to int
        ``Download/file`` GETs per product URI.
    heads : dict of str to int
        ``Download/file`` HEADs per product URI.
    """

    requests: dict[str, int] = field(default_factory=dict)
    services: dict[str, int] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)
    path_lookup_batches: tuple[int, ...] = ()
    downloads: dict[str, int] = field(default_factory=dict)
    heads: dict[str, int] = field(default_factory=dict)

    @property
    def path_lookup_uris(self) -> int:
        """URIs looked up in all."""
        return sum(self.path_lookup_batches)

    def to_json(self) -> dict[str, object]:
        """The counters as a JSON-ready mapping (the form ``/_sim/mast/stats`` shows)."""
        return {
            "requests": {name: self.requests.get(name, 0) for name in ENDPOINTS},
            "services": dict(sorted(self.services.items())),
            "answers": dict(sorted(self.answers.items())),
            "path_lookup_batches": list(self.path_lookup_batches),
            "path_lookup_uris": self.path_lookup_uris,
            "downloads": dict(sorted(self.downloads.items())),
            "heads": dict(sorted(self.heads.items())),
        }


class MastStats:
    """Live counters of the simulated MAST; :meth:`snapshot` reads them all at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._requests: Counter[str] = Counter()
        self._services: Counter[str] = Counter()
        self._answers: Counter[str] = Counter()
        self._batches: list[int] = []
        self._downloads: Counter[str] = Counter()
        self._heads: Counter[str] = Counter()

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._reset()

    def record_request(self, endpoint: str) -> None:
        """Count a request to ``endpoint`` (one of :data:`ENDPOINTS`)."""
        with self._lock:
            self._requests[endpoint] += 1

    def record_answer(self, service: str | None, status: str) -> None:
        """Count an ``/api/v0/invoke`` answer (``service`` None if unreadable)."""
        with self._lock:
            if service is not None:
                self._services[service] += 1
            self._answers[status] += 1

    def record_path_lookup(self, uris: int) -> None:
        """Count the URIs of one path lookup request."""
        with self._lock:
            self._batches.append(uris)

    def record_download(self, uri: str, method: str) -> None:
        """Count a ``Download/file`` GET or HEAD of ``uri``."""
        with self._lock:
            (self._heads if method == "HEAD" else self._downloads)[uri] += 1

    def snapshot(self) -> MastStatsSnapshot:
        """Return a consistent copy of every counter."""
        with self._lock:
            return MastStatsSnapshot(
                requests=dict(self._requests),
                services=dict(self._services),
                answers=dict(self._answers),
                path_lookup_batches=tuple(self._batches),
                downloads=dict(self._downloads),
                heads=dict(self._heads),
            )
