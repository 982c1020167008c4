"""The bounds every body is read under, whatever its transport: how much, and how slowly.

Rules:
- One rule for HTTP and S3 alike: both transfers' bodies pass through a ``BodyWatch``.
- Size: a body may bring ``most`` bytes (the rest of the known size, or of the range
  asked). The chunk that would go past it is refused before it is written, and the
  attempt fails as ``integrity``: a 200 without Content-Length that never ends would
  otherwise fill the disk.
- Speed: every ``floor.seconds`` from the body's start, the bytes of that window are
  judged by the ``core.speedfloor.SpeedFloor``; too few end the read at once (even in the
  middle of a wait for the next chunk) as a ``ReadTimeoutError``. A trickle never trips a
  read timeout, and would hold its file DOWNLOADING for ever.
- The check costs one timer per window, not per chunk; a chunk costs an addition.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from skyhaul.core.speedfloor import SpeedFloor
from skyhaul.errors import IntegrityError, ReadTimeoutError

__all__ = ["BodyWatch"]


class BodyWatch:
    """Bounds of one body while it is read, as an async context manager.

    Parameters
    ----------
    floor : SpeedFloor
        The slowest the body may arrive.
    most : int or None
        Bytes the body may bring at most (None: no bound).
    too_much : str
        What to say when it brings more.
    """

    __slots__ = (
        "_checked",
        "_floor",
        "_loop",
        "_timeout",
        "_timer",
        "_too_much",
        "_too_slow",
        "most",
        "received",
    )

    def __init__(self, floor: SpeedFloor, most: int | None, too_much: str) -> None:
        self._floor = floor
        self.most = most
        self._too_much = too_much
        self.received = 0
        self._checked = 0  # bytes received when the window started
        self._too_slow: str | None = None
        self._timeout: asyncio.Timeout | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def take(self, nbytes: int) -> None:
        """Count a chunk before it is written; IntegrityError when it brings too much."""
        received = self.received + nbytes
        if self.most is not None and received > self.most:
            raise IntegrityError(self._too_much)
        self.received = received

    async def __aenter__(self) -> BodyWatch:
        if self._floor.enabled:
            # A timeout with no deadline, moved to "now" by the check that finds the window
            # too slow: it interrupts the read wherever it waits, as asyncio.timeout does.
            self._timeout = asyncio.timeout(None)
            await self._timeout.__aenter__()
            loop = self._loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._floor.seconds, self._check)
        return self

    def _check(self) -> None:
        assert self._loop is not None and self._timeout is not None
        window = self.received - self._checked
        if self._floor.too_slow(window):
            self._too_slow = self._floor.describe(window)
            self._timer = None
            self._timeout.reschedule(self._loop.time())
            return
        self._checked = self.received
        self._timer = self._loop.call_later(self._floor.seconds, self._check)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._timeout is None:
            return
        try:
            await self._timeout.__aexit__(kind, error, trace)
        except TimeoutError:
            if self._too_slow is None:
                raise
            raise ReadTimeoutError(f"body {self._too_slow}") from None
