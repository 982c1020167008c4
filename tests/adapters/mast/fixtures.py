"""Fixtures of the MAST tests: the fake MAST served on the test's own loop (the adapter's
conftest and the service tests import them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from tests.adapters.http.loopback import serve
from tests.adapters.mast.fake_mast import FakeMast

from skyhaul.adapters.mast import InvokeLimits, MastClient


class Sleeps:
    """A sleep that records and returns at once, and the clock it advances."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 0.0

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


StartMast = Callable[..., Awaitable[MastClient]]


@pytest.fixture
def fake() -> FakeMast:
    return FakeMast()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def mast(fake: FakeMast, sleeps: Sleeps) -> AsyncIterator[StartMast]:
    """Serve ``fake``; return a function making clients of it (closed after the test)."""
    runner, url = await serve(fake.app())
    clients: list[MastClient] = []

    async def start(limits: InvokeLimits | None = None, **options: object) -> MastClient:
        client = MastClient(
            url, limits=limits, sleep=sleeps, clock=sleeps.clock, rand=lambda: 0.5, **options
        )  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.aclose()
    await runner.cleanup()


def anonymous_s3(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """Point the AWS environment at an S3 simulator, unsigned (as MAST's public bucket is
    read): no credentials, no other endpoint."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    monkeypatch.setenv("AWS_SKIP_SIGNATURE", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
