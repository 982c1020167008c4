"""Fixtures of the web tests that need MAST: the simulator's MAST side (one per module) and
the real web app in-process, its catalog on disk, MAST pointing at the simulator.

Test modules import the fixtures by name (``from tests.web.mast_fixtures import ...``) and
list them in ``__all__``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobs import JobState
from skyhaul.sim.archive import ArchiveSpec
from skyhaul.sim.config import SimConfig
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.thread import SimThread
from skyhaul.web.app import create_app
from skyhaul.web.deps import Server
from skyhaul.web.settings import WebSettings

__all__ = [
    "Event",
    "Web",
    "mast_sim",
    "module_mast_sim",
    "parse_events",
    "read_events",
    "start_web",
    "wait_job",
    "web",
    "web_settings",
]

#: The simulator's smallest observation: 4 products, 91 kB, all in the cloud.
TESS = "tess2018206045859-s0001-0000000261136679-0120-s"
#: 6 products, one (a preview) not in the cloud.
MIRI = "jw01177-o007_t004_miri_f1280w"
#: Where the tests' web app answers (a loopback origin, as ``skyhaul serve`` binds).
BASE_URL = "http://127.0.0.1"
#: Seconds a test waits at most for a job to reach a state.
JOB_DEADLINE = 20.0


@pytest.fixture(scope="module")
def module_mast_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimThread]:
    archive = ArchiveSpec.exact(1, 1024, seed=1)  # the file archive is not used here
    config = SimConfig(archive=archive, root=tmp_path_factory.mktemp("mast-sim"))
    with SimThread(config) as running:
        yield running


@pytest.fixture
def mast_sim(module_mast_sim: SimThread) -> Iterator[SimThread]:
    """The module's simulator with its faults and MAST knobs off (again after the test)."""
    sim = module_mast_sim
    sim.set_faults(FaultConfig())
    sim.set_mast_knobs(executing_polls=0, error_services=[], error_next=0)
    yield sim
    sim.set_faults(FaultConfig())
    sim.set_mast_knobs(executing_polls=0, error_services=[], error_next=0)


@dataclass
class Web:
    """The web app running in-process, and a client of it."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: WebSettings

    @property
    def server(self) -> Server:
        """The app's long-lived parts (catalog, live jobs)."""
        running: Server = self.app.state.server
        return running

    @property
    def catalog(self) -> Catalog:
        return self.server.catalog


async def start_web(settings: WebSettings) -> AsyncIterator[Web]:
    """Run the app of ``settings`` (its lifespan too) and yield a client of it that sends
    the CSRF header as the pages do (and the bearer token, when there is one)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            if settings.token is not None:
                client.headers["Authorization"] = f"Bearer {settings.token}"
            client.headers["X-CSRF-Token"] = app.state.server.gate.csrf
            yield Web(app, client, settings)


@pytest.fixture
def web_settings(tmp_path: Path, mast_sim: SimThread) -> WebSettings:
    """A catalog and a destination in tmp_path, MAST on the simulator, fast pushes."""
    return WebSettings(
        catalog=f"sqlite:///{tmp_path / 'catalog.db'}",
        dest_root=tmp_path / "data",
        mast_url=mast_sim.mast.server_url,
        live_interval=0.05,
        catalog_interval=0.1,
    )


@pytest.fixture
async def web(web_settings: WebSettings) -> AsyncIterator[Web]:
    """The app on the test's catalog, without a token."""
    async for running in start_web(web_settings):
        yield running


async def wait_job(
    client: httpx.AsyncClient,
    job_id: int,
    states: frozenset[JobState] | JobState,
    *,
    deadline: float = JOB_DEADLINE,
) -> dict[str, Any]:
    """Poll ``GET /api/jobs/{job_id}`` until the job is in one of ``states``; return it."""
    wanted = {states} if isinstance(states, JobState) else set(states)
    ends = time.monotonic() + deadline
    while True:
        answer = await client.get(f"/api/jobs/{job_id}")
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()
        if JobState(job["state"]) in wanted:
            return job
        assert time.monotonic() < ends, f"job {job_id} stayed {job['state']}: {job}"
        await asyncio.sleep(0.02)


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event."""

    name: str
    data: Any
    id: str | None


async def read_events(client: httpx.AsyncClient, path: str) -> list[Event]:
    """Read the event stream at ``path`` to its end (within the job deadline)."""
    async with asyncio.timeout(JOB_DEADLINE), client.stream("GET", path) as answer:
        assert answer.status_code == 200, await answer.aread()
        assert answer.headers["content-type"].startswith("text/event-stream")
        text = "".join([chunk async for chunk in answer.aiter_text()])
    return parse_events(text)


def parse_events(text: str) -> list[Event]:
    """The events of a ``text/event-stream`` body (comments and ``retry:`` left out)."""
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            if name in ("id", "event", "data"):
                fields[name] = value
        if "event" in fields:
            events.append(Event(fields["event"], json.loads(fields["data"]), fields.get("id")))
    return events
