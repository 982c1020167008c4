"""Liveness of workers and managers: a Redis key per running service that expires unless
refreshed.

Rules:
- A service keeps ``health:{service_type}:{name}``: a JSON document (host, pid, queues,
  when it started, what it holds) written every ``interval`` seconds (30) with an
  expiry of ``expiry`` seconds (90). A service that dies stops writing; its key expires
  and it drops out of the listing, with nothing to clean up.
- A service that stops cleanly removes its key at once.
- ``live_services`` reads them with SCAN (never KEYS, which blocks the server); a key
  that vanished meanwhile or does not hold our document is skipped.
- Redis errors become ``ConfigError`` (``adapters.redis_client``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from skyhaul.adapters.redis_client import connect, redis_errors

__all__ = ["Liveness", "ServiceHealth", "live_services"]

logger = logging.getLogger(__name__)

KEY_PREFIX = "health"
INTERVAL_S = 30.0
EXPIRY_S = 90.0


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    """What one live service says about itself.

    Parameters
    ----------
    service_type : str
        ``worker`` or ``manager``.
    name : str
        Its name, unique among services of its type.
    host : str
        The machine it runs on.
    pid : int
        Its process id there.
    queues : tuple of str
        The queues it consumes.
    started : datetime
        When it started (UTC).
    holding : tuple of str
        What it holds now (leases, host slots), as it names them.
    """

    service_type: str
    name: str
    host: str
    pid: int
    queues: tuple[str, ...] = ()
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    holding: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The Redis key the service keeps."""
        return f"{KEY_PREFIX}:{self.service_type}:{self.name}"

    def document(self) -> dict[str, Any]:
        """The JSON document stored under ``key`` (and printed by ``workers --json``)."""
        return {
            "service_type": self.service_type,
            "name": self.name,
            "host": self.host,
            "pid": self.pid,
            "queues": list(self.queues),
            "started": self.started.isoformat(),
            "holding": list(self.holding),
        }

    @classmethod
    def from_document(cls, document: Any) -> ServiceHealth:
        """Read a stored document back; ``ValueError`` (or ``KeyError``, ``TypeError``) when
        it is not one."""
        started = datetime.fromisoformat(document["started"])
        return cls(
            service_type=str(document["service_type"]),
            name=str(document["name"]),
            host=str(document["host"]),
            pid=int(document["pid"]),
            queues=tuple(str(q) for q in document["queues"]),
            started=started if started.tzinfo else started.replace(tzinfo=UTC),
            holding=tuple(str(h) for h in document["holding"]),
        )


class Liveness:
    """Keep one service's health key alive while it runs (``async with``).

    Parameters
    ----------
    redis_url : str
        The Redis that holds the keys (the broker).
    service_type : str
        ``worker`` or ``manager``.
    name : str
        The service's name (unique among its type).
    queues : collection of str
        The queues it consumes.
    interval : float
        Seconds between writes.
    expiry : float
        Seconds a write keeps the key alive (longer than ``interval``, so that one late
        write does not make a live service look dead).
    clock : callable
        Returns now (UTC): when the service started.
    sleep : callable
        Waits between writes.
    """

    def __init__(
        self,
        redis_url: str,
        service_type: str,
        name: str,
        *,
        queues: Collection[str] = (),
        interval: float = INTERVAL_S,
        expiry: float = EXPIRY_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 0 < interval < expiry:
            raise ValueError(f"the interval ({interval} s) must be below the expiry ({expiry} s)")
        self._client = connect(redis_url)
        self._interval = interval
        self._expiry_ms = max(1, round(expiry * 1000))
        self._sleep = sleep
        self._holding: dict[str, None] = {}  # ordered set
        self._task: asyncio.Task[None] | None = None
        self.health = ServiceHealth(
            service_type, name, socket.gethostname(), os.getpid(), tuple(queues), clock()
        )

    def holding(self, items: Iterable[str]) -> None:
        """Say what the service holds now (written with the next beat)."""
        self._holding = dict.fromkeys(items)

    async def beat(self) -> None:
        """Write the health key now, with a fresh expiry."""
        current = replace(self.health, holding=tuple(self._holding))
        with redis_errors(self._client):
            await self._client.set(current.key, json.dumps(current.document()), px=self._expiry_ms)

    async def run(self) -> None:
        """Write the key every ``interval`` seconds until cancelled (it then expires)."""
        while True:
            await self.beat()
            await self._sleep(self._interval)

    async def __aenter__(self) -> Self:
        try:
            await self.beat()  # a Redis that is down fails here, before the service starts
        except BaseException:
            await self._client.aclose()
            raise
        self._task = asyncio.create_task(self.run(), name=f"liveness {self.health.key}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close(forget=True)

    async def close(self, *, forget: bool = True) -> None:
        """Stop refreshing; remove the key with ``forget``, else leave it to expire."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            if forget:
                with redis_errors(self._client):
                    await self._client.delete(self.health.key)
        finally:
            await self._client.aclose()


async def live_services(
    redis_url: str, *, service_types: Collection[str] | None = None
) -> list[ServiceHealth]:
    """List the services whose health key is alive, by type then name.

    Parameters
    ----------
    redis_url : str
        The Redis that holds the keys.
    service_types : collection of str, optional
        Only these types (all when None).

    Raises
    ------
    ConfigError
        When Redis cannot be reached or answers an error.
    """
    client = connect(redis_url)
    found: list[ServiceHealth] = []
    try:
        with redis_errors(client):
            keys = [key async for key in client.scan_iter(match=f"{KEY_PREFIX}:*", count=500)]
            values = await client.mget(keys) if keys else []
    finally:
        await client.aclose()
    for key, value in zip(keys, values, strict=True):
        if value is None:  # expired between SCAN and MGET
            continue
        try:
            health = ServiceHealth.from_document(json.loads(value))
        except (ValueError, KeyError, TypeError):
            logger.debug("skipping %r: not a service's health document", key)
            continue
        if service_types is None or health.service_type in service_types:
            found.append(health)
    return sorted(found, key=lambda h: (h.service_type, h.name))
