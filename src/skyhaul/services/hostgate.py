"""Per-host gates: asyncio waiting around the pure ``HostController``.

Rules:
- The controller (core) decides; the gate only waits and reports. Every request to a host
  passes ``acquire`` before it is sent and ``release`` exactly once after it ends.
- ``release`` is synchronous so that it can run in ``finally`` blocks of cancelled tasks.
- A request is never held for a pause longer than the controller's ``max_pause``: it is
  refused at once with a ``ThrottledError`` carrying the time left, so its file ends
  FAILED, due when the server said, instead of waiting for years.
- Every change of a host's window or rate is logged with its reason, and told to the
  gate's ``changed`` (a shared gate keeps it as the host's decision; see
  ``services.shared_gate``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from skyhaul.core.ratecontrol import MAX_PAUSE_SECONDS, HostController
from skyhaul.core.retry import beyond_wait
from skyhaul.core.units import format_duration
from skyhaul.core.windowchange import WindowChange
from skyhaul.errors import ThrottledError, TransferError

log = logging.getLogger("skyhaul.engine")


class HostGate:
    """Admit requests to one host as its controller allows.

    Parameters
    ----------
    controller : HostController
        The pure decision maker for this host.
    clock : callable
        Monotonic seconds (the loop's clock in production).
    """

    def __init__(self, controller: HostController, clock: Callable[[], float]) -> None:
        self.controller = controller
        self.in_flight = 0
        self._clock = clock
        self._waiters: list[asyncio.Future[None]] = []

    async def acquire(self) -> float:
        """Wait until a request may start; return its start time.

        Raises
        ------
        ThrottledError
            The host is paused for longer than a request waits (``max_pause``).
        """
        loop = asyncio.get_running_loop()
        while True:
            now = self._clock()
            controller = self.controller
            if controller.can_start(self.in_flight, now):
                controller.on_start(now)
                self.in_flight += 1
                return now
            left = controller.refusal(now)
            if left is not None:
                raise ThrottledError(
                    f"{controller.host}: paused for {format_duration(left)} (Retry-After), "
                    f"{beyond_wait(controller.max_pause)}",
                    retry_after=left,
                )
            delay = controller.earliest_start(now) - now
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait([waiter], timeout=delay if delay > 0 else None)
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                if not waiter.done():
                    waiter.cancel()

    def release(self, started_at: float, error: BaseException | None = None) -> None:
        """Report the end of a request (``error`` None for success) and wake waiters."""
        self._end()
        now = self._clock()
        if error is None:
            change = self.controller.on_success(now, started_at)
        elif isinstance(error, TransferError):
            change = self.controller.on_failure(
                error.error_class,
                now=now,
                started_at=started_at,
                status=error.status,
                retry_after=error.retry_after,
            )
        else:
            change = None  # cancelled or local failure: says nothing about the host
        if change is not None:
            # Slowing down matters to an operator; speeding up is routine.
            log.log(logging.INFO if change.is_decrease else logging.DEBUG, "%s", change)
            self.changed(change)
        self._wake()

    def changed(self, change: WindowChange) -> None:
        """Hear a change of the controller's window or rate (shared gates record it)."""

    def _end(self) -> None:
        """Free the request's place in the window (it is no longer in flight)."""
        self.in_flight -= 1

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class GateRegistry:
    """One :class:`HostGate` per host, created on first use.

    Parameters
    ----------
    max_per_host : int
        Ceiling of every host's concurrency window.
    clock : callable
        Monotonic seconds.
    max_pause : float
        Longest pause a request waits for; while a host pauses longer, its requests are
        refused at once.
    """

    def __init__(
        self,
        max_per_host: int,
        clock: Callable[[], float],
        max_pause: float = MAX_PAUSE_SECONDS,
    ) -> None:
        self.max_per_host = max(1, max_per_host)
        self.max_pause = max_pause
        self._clock = clock
        self._gates: dict[str, HostGate] = {}
        # ``scheme://authority`` -> gate: one dict lookup per file instead of a URL parse.
        self._by_origin: dict[str, HostGate] = {}

    def for_url(self, url: str) -> HostGate:
        """Return the gate of ``url``'s host (``host:port``)."""
        slash = url.find("/", url.find("//") + 2)
        origin = url if slash < 0 else url[:slash]
        gate = self._by_origin.get(origin)
        if gate is None:
            gate = self._gate_of(urlsplit(url).netloc.rpartition("@")[2].lower())
            if slash >= 0 and "?" not in origin and "#" not in origin:
                self._by_origin[origin] = gate
        return gate

    def _gate_of(self, host: str) -> HostGate:
        gate = self._gates.get(host)
        if gate is None:
            ceiling = self.max_per_host
            start = min(ceiling, max(2, ceiling // 2))
            controller = HostController(
                host, start=start, floor=1, ceiling=ceiling, max_pause=self.max_pause
            )
            gate = self._gates[host] = self._new_gate(controller)
        return gate

    def _new_gate(self, controller: HostController) -> HostGate:
        return HostGate(controller, self._clock)
