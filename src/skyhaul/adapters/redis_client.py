"""Opening Redis, and Redis' errors turned into ours at the seam.

Rules:
- Every adapter that talks to Redis (shared host limits, liveness) opens it here and runs
  its commands inside ``redis_errors``: a Redis that is down, refuses us or answers an
  error becomes one ``ConfigError`` line (exit code 2) naming the server, never a
  traceback, and never its password.
- Connecting gives up after a few seconds: a wrong host must not hang a command.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from skyhaul.core.redact import redact_url
from skyhaul.errors import ConfigError

__all__ = ["connect", "describe", "redis_errors"]

_CONNECT_TIMEOUT_S = 5.0


def connect(url: str) -> aioredis.Redis:
    """Return an asyncio Redis client for ``url`` (it connects on its first command).

    Parameters
    ----------
    url : str
        ``redis://[:password@]host[:port][/db]`` (or ``rediss://``, ``unix://``).

    Raises
    ------
    ConfigError
        When ``url`` is not a Redis URL.
    """
    try:
        return aioredis.Redis.from_url(
            url, socket_connect_timeout=_CONNECT_TIMEOUT_S, socket_timeout=_CONNECT_TIMEOUT_S
        )
    except ValueError as error:
        raise ConfigError(f"bad Redis URL {redact_url(url)}: {error}") from None


def describe(client: aioredis.Redis) -> str:
    """Name the server ``client`` talks to, without credentials (``redis://host:port/db``)."""
    options = client.connection_pool.connection_kwargs
    if "path" in options:
        return f"unix://{options['path']}"
    return f"redis://{options.get('host', '?')}:{options.get('port', '?')}/{options.get('db', 0)}"


@contextmanager
def redis_errors(client: aioredis.Redis) -> Iterator[None]:
    """Turn any Redis error raised inside into a one-line ``ConfigError`` naming the server."""
    try:
        yield
    except RedisError as error:
        detail = " ".join(str(error).split()) or type(error).__name__
        raise ConfigError(f"Redis at {describe(client)}: {detail}") from None
