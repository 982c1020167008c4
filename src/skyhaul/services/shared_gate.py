"""Per-host gates shared by every worker: the local gate, then the host's shared limits.

Rules:
- A run given ``SharedHostLimits`` admits each request first through its own
  ``HostGate`` (its controller's window and pace, as in one process), then takes a slot
  of the host's shared semaphore (limit: the controller's current window, over all
  workers) and asks the host's shared pace before it starts. Without shared limits the
  engine uses ``GateRegistry`` alone: nothing here runs, nothing imports Redis.
- Each controller's rate is the host's, over all workers: its ``share`` is one over the
  workers on the host (the distinct owners holding its slots, counted every refresh), so
  what it measures of its own requests stands for the host's. The shared pace (GCRA) is
  that rate with a burst of one per worker: the workers together keep to it, and their
  bursts are spread instead of landing at once. A pace wait longer than ``max_pause``
  refuses the request with a ``ThrottledError``, as a local pause does.
- A worker's slots of one host are interchangeable: a request's end gives back any one of
  them (off the loop, in a task, since ``release`` is synchronous). Holders are named
  ``owner/n``. Their time-to-live is the lease's, refreshed with it every second by the
  registry's refresher; a slot found expired is taken again. A worker that dies frees
  its slots within one lease.
- Every change of a controller's window or rate is kept as the host's ``HostDecision``
  (window, rate, reason) and written to the catalog by the refresher, at most once a
  second per host. A gate created in a run starts its controller from the stored
  decision, and every second the refresher reads the decisions back: a host's decision
  by another worker, newer than this worker's own last change, is adopted. So the
  workers keep to one rate (one GCRA interval: none starves the others), and one that
  was starved into a low rate is lifted within a second.
- Redis going away never fails a file: the first error is logged once (WARNING), the
  worker keeps to its local gate alone for ``DOWN_RETRY_SECONDS`` and then tries the
  shared limits again (logged at INFO when they answer). Catalog write errors of
  decisions are logged and dropped (the next change writes again).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from skyhaul.core.ratecontrol import MAX_PAUSE_SECONDS, HostController
from skyhaul.core.units import format_duration
from skyhaul.core.windowchange import HostDecision, WindowChange
from skyhaul.errors import ConfigError, SkyhaulError, ThrottledError
from skyhaul.ports.catalog import HostWindows
from skyhaul.ports.limits import HostSlots, SharedHostLimits
from skyhaul.services.hostgate import GateRegistry, HostGate

__all__ = ["SharedGateRegistry", "SharedHostGate"]

log = logging.getLogger("skyhaul.engine")

#: Seconds between refreshes of the slots, counts of workers and writes of decisions.
REFRESH_SECONDS = 1.0
#: First and longest wait between two tries of a full semaphore.
SLOT_POLL_FIRST = 0.01
SLOT_POLL_MOST = 0.2
#: After a Redis error, the local gate alone decides for this long.
DOWN_RETRY_SECONDS = 5.0
_NEVER = datetime.min.replace(tzinfo=UTC)


class SharedHostGate(HostGate):
    """A host's gate that also takes the host's shared slot and pace.

    Parameters
    ----------
    controller : HostController
        This worker's controller of the host.
    clock : callable
        Monotonic seconds (the loop's clock).
    registry : SharedGateRegistry
        Holds the shared limits, the holder names and the Redis state.
    """

    def __init__(
        self, controller: HostController, clock: Callable[[], float], registry: SharedGateRegistry
    ) -> None:
        super().__init__(controller, clock)
        self.registry = registry
        self.slots: HostSlots = registry.limits.semaphore(controller.host, controller.window)
        self.holders: list[str] = []
        self.workers = 1
        """Workers on the host (distinct owners of its slots), as last counted."""
        self.decided_at = _NEVER
        """When this gate's window or rate was last decided (here, or adopted)."""

    async def acquire(self) -> float:
        """Wait for the local gate, then for a shared slot and the shared pace.

        Raises
        ------
        ThrottledError
            The host is paused, or paced, for longer than a request waits.
        """
        started = await super().acquire()
        try:
            await self._take_shared()
        except BaseException:
            self._end()
            self._wake()
            raise
        return started

    async def _take_shared(self) -> None:
        registry = self.registry
        if not registry.up():
            return
        controller = self.controller
        try:
            holder = registry.new_holder()
            pause = SLOT_POLL_FIRST
            while True:
                self.slots.limit = controller.window
                if await self.slots.acquire(holder, registry.ttl):
                    break
                await asyncio.sleep(pause)
                pause = min(SLOT_POLL_MOST, 2 * pause)
            self.holders.append(holder)
            while controller.rate is not None:
                workers = self.workers
                wait = await registry.limits.allow(controller.host, controller.rate, workers)
                if wait <= 0:
                    break
                if wait > controller.max_pause:
                    raise ThrottledError(
                        f"{controller.host}: paced {format_duration(wait)} away by the "
                        "workers' shared limit",
                        retry_after=wait,
                    )
                await asyncio.sleep(wait)
            registry.answered()
        except ConfigError as error:
            registry.went_down(error)

    def _end(self) -> None:
        super()._end()
        if self.holders:
            self.registry.give_back(self.slots, self.holders.pop())

    def changed(self, change: WindowChange) -> None:
        """Keep the change as the host's decision; the refresher writes it."""
        controller = self.controller
        self.decided_at = self.registry.decided(
            controller.host, controller.window, controller.rate, change.reason
        )

    def follow(self, decision: HostDecision) -> None:
        """Adopt another worker's decision of the host when newer than this gate's own."""
        if decision.decided_by != self.registry.owner and decision.decided_at > self.decided_at:
            self.controller.adopt(decision.window, decision.rate)
            self.decided_at = decision.decided_at
            log.debug(
                "%s: window %d, rate %s from %s (%s)",
                decision.host,
                decision.window,
                decision.rate,
                decision.decided_by,
                decision.reason,
            )

    async def refresh(self) -> None:
        """Extend this worker's slots (taking back any that expired); count the workers."""
        ttl = self.registry.ttl
        for holder in list(self.holders):
            lost = not await self.slots.refresh(holder, ttl)
            if lost and holder in self.holders:  # not given back meanwhile
                await self.slots.acquire(holder, ttl)  # full: tried again next time
        owners = {holder.rpartition("/")[0] for holder in await self.slots.holders()}
        if self.in_flight:
            owners.add(self.registry.owner)
        self.workers = max(1, len(owners))
        self.controller.share = 1 / self.workers


class SharedGateRegistry(GateRegistry):
    """One :class:`SharedHostGate` per host, its refresher, and the decisions to write.

    Parameters
    ----------
    max_per_host : int
        Ceiling of every host's concurrency window.
    clock : callable
        Monotonic seconds.
    max_pause : float
        Longest pause or pace wait a request waits for.
    limits : SharedHostLimits
        The store every worker shares (Redis).
    owner : str
        This run's lease owner id: the prefix of its holders, and who decided.
    ttl : float
        Seconds a slot is held without refresh (the lease's length).
    windows : HostWindows or None
        Where decisions are written; None: not written.
    learned : mapping of str to HostDecision
        Decisions stored earlier, by host: a new gate starts from its host's.
    now : callable
        Wall-clock time of decisions (UTC).
    """

    def __init__(
        self,
        max_per_host: int,
        clock: Callable[[], float],
        max_pause: float = MAX_PAUSE_SECONDS,
        *,
        limits: SharedHostLimits,
        owner: str,
        ttl: float,
        windows: HostWindows | None,
        learned: Mapping[str, HostDecision],
        now: Callable[[], datetime],
    ) -> None:
        super().__init__(max_per_host, clock, max_pause)
        self.limits = limits
        self.owner = owner
        self.ttl = ttl
        self._windows = windows
        self._learned = dict(learned)
        self._now = now
        self._shared_gates: list[SharedHostGate] = []
        self._pending: dict[str, HostDecision] = {}
        self._releases: set[asyncio.Task[None]] = set()
        self._numbers = itertools.count()
        self._down_until = -1.0
        self._down = False
        self._refresher: asyncio.Task[None] | None = None

    def _new_gate(self, controller: HostController) -> HostGate:
        decision = self._learned.get(controller.host)
        if decision is not None:
            controller.adopt(decision.window, decision.rate)
        gate = SharedHostGate(controller, self._clock, self)
        if decision is not None:
            gate.decided_at = decision.decided_at
        self._shared_gates.append(gate)
        return gate

    # --- lifetime ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the refresher (on the running loop)."""
        self._refresher = asyncio.ensure_future(self._refresh_forever())

    async def close(self) -> None:
        """Stop the refresher, write the last decisions, give back every slot held."""
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.gather(self._refresher, return_exceptions=True)
        await self._write_decisions()
        for gate in self._shared_gates:
            while gate.holders:
                self.give_back(gate.slots, gate.holders.pop())
        await asyncio.gather(*self._releases, return_exceptions=True)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            if self.up():
                try:
                    for gate in list(self._shared_gates):
                        await gate.refresh()
                except ConfigError as error:
                    self.went_down(error)
            await self._write_decisions()
            await self._follow_decisions()

    async def _follow_decisions(self) -> None:
        if self._windows is None or not self._shared_gates:
            return
        try:
            stored = await self._windows.host_windows()
        except SkyhaulError as error:
            log.debug("window decisions not read: %s", error)
            return
        for gate in self._shared_gates:
            decision = stored.get(gate.controller.host)
            if decision is not None:
                gate.follow(decision)

    # --- what gates call ---------------------------------------------------------------

    def new_holder(self) -> str:
        """A holder name no other request of any worker uses."""
        return f"{self.owner}/{next(self._numbers)}"

    def give_back(self, slots: HostSlots, holder: str) -> None:
        """Release ``holder``'s slot in a task (its time-to-live frees it if that fails)."""
        task = asyncio.ensure_future(self._release(slots, holder))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _release(self, slots: HostSlots, holder: str) -> None:
        try:
            await slots.release(holder)
        except ConfigError as error:
            self.went_down(error)

    def decided(self, host: str, window: int, rate: float | None, reason: str) -> datetime:
        """Keep ``host``'s latest decision until the refresher writes it; return its time."""
        now = self._now()
        self._pending[host] = HostDecision(host, window, rate, reason, now, self.owner)
        return now

    def up(self) -> bool:
        """Whether the shared limits are to be asked (not within a Redis outage)."""
        return self._clock() >= self._down_until

    def answered(self) -> None:
        """The shared limits answered: end an outage, if there was one."""
        if self._down:
            self._down = False
            log.info("shared host limits answer again; workers share politeness again")

    def went_down(self, error: ConfigError) -> None:
        """Keep to the local gates for a while after a Redis error (logged once)."""
        self._down_until = self._clock() + DOWN_RETRY_SECONDS
        if not self._down:
            self._down = True
            log.warning("%s; each host's gate is local to this worker until it answers", error)

    async def _write_decisions(self) -> None:
        pending, self._pending = self._pending, {}
        if self._windows is None:
            return
        for decision in pending.values():
            try:
                await self._windows.record_host_window(decision)
            except SkyhaulError as error:
                log.warning("%s: window decision not recorded: %s", decision.host, error)
