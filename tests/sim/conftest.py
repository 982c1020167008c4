"""Fixtures of the simulator tests: one shared cache of the ``small`` archive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from skyhaul.sim import RunningSim, SimConfig, profile, start_server


@pytest.fixture(scope="session")
def sim_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cache root shared by every test (the archive is materialised once)."""
    return tmp_path_factory.mktemp("sim-cache")


@pytest.fixture
def small_config(sim_root: Path) -> SimConfig:
    return SimConfig(archive=profile("small"), root=sim_root)


@pytest.fixture
async def running(small_config: SimConfig) -> AsyncIterator[RunningSim]:
    async with await start_server(small_config) as sim:
        yield sim


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client
