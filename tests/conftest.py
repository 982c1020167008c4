"""Fixtures every test directory shares."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import redis.asyncio as aioredis

WaitFor = Callable[[Callable[[], bool], float, str], None]


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def wait_for() -> WaitFor:
    """Poll ``condition`` until it holds; fail after ``timeout`` s naming ``what``."""
    return _wait_for


#: Redis tests use this database only, and delete only the keys they made there.
REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis (database 13): skipped when unreachable, but failed under CI=true."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            pass
    except OSError as error:
        why = f"no Redis on 127.0.0.1:6379 ({error})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}; CI=true requires it")
        pytest.skip(why)
    return REDIS_URL


@pytest.fixture
def redis_token() -> str:
    """A word of this test only: every Redis key the test makes contains it."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_client(redis_url: str, redis_token: str) -> AsyncIterator[aioredis.Redis]:
    """A client of the test Redis; afterwards the keys holding ``redis_token`` are deleted."""
    from skyhaul.adapters.redis_client import connect  # only Redis tests pay for the import

    opened = connect(redis_url)
    yield opened
    keys = [k async for k in opened.scan_iter(match=f"*{redis_token}*")]
    if keys:
        await opened.delete(*keys)
    await opened.aclose()


#: The NATS server with JetStream that the streaming tests use (each its own stream).
NATS_URL = "nats://127.0.0.1:4222"


@pytest.fixture(scope="session")
def nats_url() -> str:
    """The test NATS server: skipped when unreachable, but failed under CI=true."""
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=2):
            pass
    except OSError as error:
        why = f"no NATS server on 127.0.0.1:4222 ({error})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}; CI=true requires it")
        pytest.skip(why)
    return NATS_URL


@pytest.fixture
def stream_name() -> str:
    """A stream name of this test only (the test deletes its stream afterwards)."""
    return f"test-{uuid.uuid4().hex[:12]}"


#: Modules that run longest (real worker processes, browsers): collected first, so the
#: two test processes (pytest-xdist, a module whole in one) start on them and the many
#: short modules fill in around them, instead of one process ending alone on a long one.
_LONG_FIRST = ("worker", "web")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the long modules first, keeping every module's tests in their order."""

    def rank(item: pytest.Item) -> int:
        parts = item.path.parts
        for position, folder in enumerate(_LONG_FIRST):
            if "tests" in parts and folder in parts[parts.index("tests") + 1 : -1]:
                return position
        return len(_LONG_FIRST)

    items.sort(key=rank)  # stable: the order within each group is kept
