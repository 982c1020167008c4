"""The state one simulator app shares between its routes, and the helpers they all use.

Rules:
- :class:`SimState` is the only mutable state of a server: current file versions, the
  fault engine, the records gate and the counters. It lives on the aiohttp app under
  :data:`SIM_STATE`.
- It is touched only from the server's event loop (the counters excepted: they lock).
- Faults that apply before a request is served (latency, then a refusal) are carried out
  by :func:`refusal_for`, for file routes always and for API routes on request
  (:func:`api_refusal`, when ``faults_on_api``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from aiohttp import web

from skyhaul.sim.cache import FileVersion
from skyhaul.sim.decisions import FaultEngine
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.listing import ListedFile, ListingFilter
from skyhaul.sim.records_gate import RecordsGate
from skyhaul.sim.stats import SimStats
from skyhaul.sim.store import FileStore


@dataclass
class SimState:
    """Everything a running simulator knows and changes.

    Parameters
    ----------
    store : FileStore
        Current version of each file.
    engine : FaultEngine
        The fault knobs and their random generator.
    stats : SimStats
        The counters.
    records : RecordsGate
        The records API's knobs and its rate limiter.
    """

    store: FileStore
    engine: FaultEngine
    stats: SimStats
    records: RecordsGate
    published_until: datetime | None = None
    """The archive's "now": listings show only files downlinked by then (None: all).
    Moving it forward makes files appear, as new passes bring them down."""

    def listing(self, origin: str, selection: ListingFilter | None = None) -> list[ListedFile]:
        """List the current versions, with URLs under ``origin`` (``http://host:port``)."""
        until = self.published_until
        return [
            ListedFile(file_url(origin, v.file.path), v)
            for v in self.store.versions()
            if (selection is None or selection.accepts(v))
            and (until is None or v.file.downlink_time <= until)
        ]

    async def change_file(self, path: str) -> FileVersion:
        """Give the file at ``path`` its next generation and count the change.

        Raises
        ------
        KeyError
            If there is no file at ``path``.
        """
        if self.store.current(path) is None:
            raise KeyError(path)
        version = await self.store.advance(path)
        self.stats.record_event("changed")
        return version

    def configure(self, faults: FaultConfig) -> None:
        """Put new fault knobs in force (refilling both rate limiters)."""
        now = asyncio.get_running_loop().time()
        self.engine.configure(faults, now)
        self.records.configure(faults.records, now)


SIM_STATE = web.AppKey("skyhaul_sim_state", SimState)


def file_url(origin: str, path: str) -> str:
    """Absolute URL of archive path ``path`` on the server at ``origin``."""
    return f"{origin.rstrip('/')}/files/{quote(path)}"


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An error answer with a JSON body ``{"error": message}``."""
    return web.json_response({"error": message}, status=status, headers=headers)


async def refusal_for(state: SimState, path: str) -> web.Response | None:
    """Wait out the configured latency, then return the refusal to answer with, if any.

    Parameters
    ----------
    state : SimState
        The server's state.
    path : str
        Archive path (file routes) or URL path (API routes), for ``fail_paths``.

    Returns
    -------
    aiohttp.web.Response or None
        A 429, 503 or fail-path answer, or None to go on serving.
    """
    config = state.engine.config
    if config.latency > 0:
        await asyncio.sleep(config.latency)
    refusal = state.engine.refusal(path, asyncio.get_running_loop().time())
    if refusal is None:
        return None
    return json_error(refusal.status, refusal.reason, refusal.headers)


async def api_refusal(state: SimState, path: str) -> web.Response | None:
    """Like :func:`refusal_for`, for an ``/api/`` route: only when ``faults_on_api``."""
    if not state.engine.config.faults_on_api:
        return None
    return await refusal_for(state, path)
