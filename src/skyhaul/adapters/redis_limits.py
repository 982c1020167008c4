"""Per-host concurrency and pace shared by every worker, in Redis (``SharedHostLimits``).

Rules:
- Each decision is one Lua script, so it is atomic across workers, and its clock is
  Redis' ``TIME``: workers' clocks may disagree, the server's is the only one used.
- Concurrency: ``{prefix}:sem:{host}`` is a sorted set of holders scored by the
  millisecond their slot expires. Every script first drops the expired holders; acquire
  admits a holder while fewer than ``limit`` hold a slot (one already holding is
  refreshed, never counted twice); refresh extends only a holder still present. The
  key's own TTL follows its latest holder, so an idle host leaves nothing behind.
- Pace: GCRA on ``{prefix}:rate:{host}``, which stores the theoretical arrival time in
  microseconds. A request is allowed (and counted) when it arrives no earlier than
  ``burst`` emission intervals before that time; otherwise nothing is stored and the
  answer is how long to wait.
- Redis errors become ``ConfigError`` (``adapters.redis_client``).
- ``open_host_limits`` owns its connection: opened and closed on the caller's loop.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis

from skyhaul.adapters.redis_client import connect, redis_errors
from skyhaul.ports.limits import HostSlots

if TYPE_CHECKING:
    from skyhaul.ports.limits import SharedHostLimits

__all__ = ["HostRate", "HostSemaphore", "RedisHostLimits", "open_host_limits"]

DEFAULT_PREFIX = "skyhaul"

#: Shared by both semaphore scripts: the server's now in ms, expired holders dropped.
_NOW_AND_PRUNE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ttl = tonumber(ARGV[2])
local function hold()
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(last[2]) - now))
  return 1
end
"""

# KEYS[1] the semaphore; ARGV holder, ttl in ms, limit.
_ACQUIRE = (
    _NOW_AND_PRUNE
    + """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return hold() end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then return hold() end
return 0
"""
)

# KEYS[1] the semaphore; ARGV holder, ttl in ms.
_REFRESH = (
    _NOW_AND_PRUNE
    + """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return hold() end
return 0
"""
)

# KEYS[1] the theoretical arrival time; ARGV emission interval in us, burst.
# Returns the wait in us (0: allowed and counted).
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then return math.ceil(allow_at - now) end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat),
           'PX', math.ceil((new_tat - now) / 1000) + 1)
return 0
"""


def _milliseconds(ttl: float) -> int:
    if not ttl > 0 or math.isinf(ttl):
        raise ValueError(f"a holder's time-to-live must be a positive number of seconds: {ttl}")
    return max(1, math.ceil(ttl * 1000))


class HostSemaphore:
    """One host's concurrency slots, shared by every client of the same Redis and prefix.

    Parameters
    ----------
    client : redis.asyncio.Redis
        The connection (owned by the caller).
    host : str
        The host the slots are for.
    limit : int
        At most this many holders at once; may be changed between acquisitions.
    prefix : str
        Namespace of the keys.
    """

    def __init__(
        self, client: aioredis.Redis, host: str, limit: int, *, prefix: str = DEFAULT_PREFIX
    ) -> None:
        self.limit = limit
        self.key = f"{prefix}:sem:{host}"
        self._client = client
        self._acquire = client.register_script(_ACQUIRE)
        self._refresh = client.register_script(_REFRESH)

    async def acquire(self, holder: str, ttl: float) -> bool:
        """Take a slot for ``holder`` for ``ttl`` seconds (a holder already in is refreshed).

        Returns
        -------
        bool
            False when ``limit`` other holders hold a slot.
        """
        return await self._run(self._acquire, holder, _milliseconds(ttl), self.limit)

    async def refresh(self, holder: str, ttl: float) -> bool:
        """Extend ``holder``'s slot to ``ttl`` seconds from now.

        Returns
        -------
        bool
            False when the slot was lost (it expired, or was released): it is not taken
            back; acquire again.
        """
        return await self._run(self._refresh, holder, _milliseconds(ttl))

    async def release(self, holder: str) -> None:
        """Give ``holder``'s slot back; nothing happens if it holds none."""
        with redis_errors(self._client):
            await self._client.zrem(self.key, holder)

    async def holders(self) -> list[str]:
        """The holders whose slot has not expired (for ``workers`` listings and tests)."""
        with redis_errors(self._client):
            time = await self._client.time()
            now_ms = time[0] * 1000 + time[1] // 1000
            found = await self._client.zrangebyscore(self.key, f"({now_ms}", "+inf")
        return [h.decode() if isinstance(h, bytes) else str(h) for h in found]

    async def _run(self, script: Any, *args: object) -> bool:
        with redis_errors(self._client):
            return bool(await script(keys=[self.key], args=list(args)))


class HostRate:
    """Each host's pace (GCRA), shared by every client of the same Redis and prefix.

    Parameters
    ----------
    client : redis.asyncio.Redis
        The connection (owned by the caller).
    prefix : str
        Namespace of the keys.
    """

    def __init__(self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        self._client = client
        self._gcra = client.register_script(_GCRA)

    async def allow(self, host: str, rate_per_s: float, burst: int) -> float:
        """Count one request to ``host`` if its pace allows it now.

        Parameters
        ----------
        host : str
            The host.
        rate_per_s : float
            Sustained requests per second.
        burst : int
            Requests allowed at once after a pause (at least 1).

        Returns
        -------
        float
            0 when the request may go now (it was counted); otherwise the seconds to
            wait before asking again (nothing was counted).
        """
        if not rate_per_s > 0 or math.isinf(rate_per_s):
            raise ValueError(f"a rate must be a positive number of requests a second: {rate_per_s}")
        if burst < 1:
            raise ValueError(f"a burst must be at least 1: {burst}")
        interval_us = 1_000_000 / rate_per_s
        with redis_errors(self._client):
            key = f"{self.prefix}:rate:{host}"
            wait_us = await self._gcra(keys=[key], args=[interval_us, burst])
        return int(wait_us) / 1_000_000


class RedisHostLimits:
    """``SharedHostLimits`` in Redis: semaphores and paces under one key prefix.

    Parameters
    ----------
    client : redis.asyncio.Redis
        The connection (owned by the caller).
    prefix : str
        Namespace of the keys.
    """

    def __init__(self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = prefix
        self._rate = HostRate(client, prefix=prefix)

    def semaphore(self, host: str, limit: int) -> HostSlots:
        """Return ``host``'s semaphore admitting at most ``limit`` holders."""
        return HostSemaphore(self._client, host, limit, prefix=self._prefix)

    async def allow(self, host: str, rate_per_s: float, burst: int) -> float:
        """Count one request to ``host``, or return the seconds to wait (see ``HostRate``)."""
        return await self._rate.allow(host, rate_per_s, burst)


@asynccontextmanager
async def open_host_limits(
    url: str, *, prefix: str = DEFAULT_PREFIX
) -> AsyncIterator[RedisHostLimits]:
    """Open shared host limits in the Redis at ``url``; closed on exit.

    Raises
    ------
    ConfigError
        When ``url`` is not a Redis URL (the server is first reached by a request).
    """
    client = connect(url)
    try:
        yield RedisHostLimits(client, prefix=prefix)
    finally:
        await client.aclose()


if TYPE_CHECKING:

    def _implements_port(limits: RedisHostLimits) -> SharedHostLimits:
        return limits  # mypy checks here that the adapter implements the port
