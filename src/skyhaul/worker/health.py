"""A worker's or manager's health key, kept alive beside Celery's own loop.

Rules:
- ``health:{service_type}:{HOST:PID}`` is written before the service starts its work (a
  Redis that cannot be reached stops it there, with one line) and refreshed every 30 s
  with a 90 s expiry, from a daemon thread with its own event loop: Celery's worker loop
  and forked children never see it.
- A clean stop deletes the key; a killed process leaves it to expire, so ``skyhaul
  workers`` stops listing a dead worker within 90 s.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Callable, Sequence

from skyhaul.adapters.liveness import Liveness

__all__ = ["keep_alive", "service_name"]


def service_name() -> str:
    """This process's name in health keys: ``HOST:PID``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def keep_alive(
    broker: str, service_type: str, queues: Sequence[str] = (), *, interval: float = 30.0
) -> Callable[[], None]:
    """Write the health key now, keep it alive from a daemon thread; return what stops
    it (and deletes the key).

    Raises
    ------
    ConfigError
        Redis cannot be reached (nothing is started).
    """
    liveness = Liveness(
        broker, service_type, service_name(), queues=tuple(queues), interval=interval
    )
    loop = asyncio.new_event_loop()
    loop.run_until_complete(liveness.__aenter__())
    stopping = asyncio.Event()

    async def until_stopped() -> None:
        await stopping.wait()
        await liveness.close(forget=True)

    thread = threading.Thread(
        target=loop.run_until_complete, args=(until_stopped(),), name="health", daemon=True
    )
    thread.start()

    def stop() -> None:
        loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=5)

    return stop
