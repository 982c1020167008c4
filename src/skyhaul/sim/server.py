"""Start and stop a simulated archive server (aiohttp.web) and reach into it while it runs.

Rules:
- :func:`start_server` materialises the archive first (reusing the cache, off the event
  loop), then listens; :class:`RunningSim` is the handle: URLs, listing, counters, live
  fault knobs, and ``close()``.
- Routes: ``/files/`` in :mod:`skyhaul.sim.file_routes`; ``/api/records`` in
  :mod:`skyhaul.sim.records_routes`; MAST's (``/api/v0/invoke``, ``/api/v0.1/...``,
  ``/portal/...``, ``/Santa-war/...``, ``/_sim/mast...``) in :mod:`skyhaul.sim.mast`,
  always on; the rest of ``/api/`` and ``/_sim/`` in :mod:`skyhaul.sim.api_routes`.
  Counting happens here, in one middleware, for every request except the control
  plane's (``/_sim/``).
- No access log; shutdown gives in-flight responses one second, then closes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from types import TracebackType

from aiohttp import web

from skyhaul.sim.api_routes import ROUTES
from skyhaul.sim.appstate import SIM_STATE, SimState, file_url
from skyhaul.sim.archive import Archive, Slot, build_archive
from skyhaul.sim.cache import ArchiveCache
from skyhaul.sim.config import SimConfig
from skyhaul.sim.decisions import FaultEngine
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.file_routes import serve_file
from skyhaul.sim.listing import ListedFile
from skyhaul.sim.mast.app import install_mast
from skyhaul.sim.mast.handle import RunningMast
from skyhaul.sim.mast.state import MastState
from skyhaul.sim.records_gate import RecordsGate
from skyhaul.sim.records_routes import ROUTES as RECORDS_ROUTES
from skyhaul.sim.stats import SimStats
from skyhaul.sim.store import FileStore

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RunningSim:
    """A simulator serving on a socket. Use :func:`start_server` to make one.

    Attributes
    ----------
    base_url : str
        ``http://HOST:PORT/``, with a trailing slash.
    mast : RunningMast
        The MAST side: dataset, products on disk, knobs and counters.
    """

    def __init__(
        self, runner: web.AppRunner, state: SimState, base_url: str, mast: MastState
    ) -> None:
        self._runner = runner
        self._state = state
        self.base_url = base_url
        self.mast = RunningMast(mast, base_url)

    @property
    def stats(self) -> SimStats:
        """Live counters (thread-safe; :meth:`SimStats.snapshot` reads them all)."""
        return self._state.stats

    @property
    def archive(self) -> Archive:
        """The archive layout (generation-0 metadata and the pass schedule)."""
        return self._state.store.archive

    @property
    def files(self) -> list[ListedFile]:
        """The listing: every file's current generation, with absolute URLs."""
        return self._state.listing(self.base_url)

    @property
    def slots(self) -> tuple[Slot, ...]:
        """The ground-station pass schedule."""
        return self.archive.slots

    @property
    def faults(self) -> FaultConfig:
        """The fault knobs in force."""
        return self._state.engine.config

    def url_for(self, path: str) -> str:
        """Absolute URL of the file at archive path ``path``."""
        return file_url(self.base_url, path)

    def set_faults(self, faults: FaultConfig | None = None, /, **changes: object) -> FaultConfig:
        """Put new fault knobs in force (call on the server's event loop).

        Parameters
        ----------
        faults : FaultConfig, optional
            The whole new configuration; without it, ``changes`` apply to the current one.
        **changes : object
            Knobs to change, parsed as :meth:`FaultConfig.from_mapping` does (the
            records API's among them: ``records_rate=20``, ``sensors=4``, ...).

        Returns
        -------
        FaultConfig
            The configuration now in force.
        """
        base = faults if faults is not None else self.faults
        new = FaultConfig.from_mapping(changes, base=base)
        self._state.configure(new)
        return new

    async def change_file(self, path: str) -> ListedFile:
        """Give the file at ``path`` new content now, as ``change_every`` would.

        Parameters
        ----------
        path : str
            Archive path of an existing file.

        Returns
        -------
        ListedFile
            The file's new listing entry.

        Raises
        ------
        KeyError
            If there is no such file.
        """
        version = await self._state.change_file(path)
        return ListedFile(self.url_for(path), version)

    def publish_until(self, moment: datetime | None) -> None:
        """List only the files downlinked by ``moment`` (None: every file); see
        :attr:`SimState.published_until`. Call on the server's event loop."""
        self._state.published_until = moment

    async def close(self) -> None:
        """Stop serving and close every connection."""
        await self._runner.cleanup()

    async def __aenter__(self) -> RunningSim:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def start_server(config: SimConfig, host: str = "127.0.0.1", port: int = 0) -> RunningSim:
    """Materialise the archive (reusing the cache) and start serving it.

    Parameters
    ----------
    config : SimConfig
        Archive, cache directory and initial faults.
    host : str, optional
        Address to listen on.
    port : int, optional
        Port to listen on; 0 picks a free one (see ``base_url``).

    Returns
    -------
    RunningSim
        The running server; ``await sim.close()`` (or ``async with``) stops it.
    """
    archive = build_archive(config.archive)
    cache = ArchiveCache(config.cache_root, archive)
    initial = await asyncio.to_thread(cache.materialise)
    loop = asyncio.get_running_loop()
    now = loop.time()
    state = SimState(
        FileStore(cache, initial),
        FaultEngine(config.faults, now),
        SimStats(),
        RecordsGate(config.faults.records, now),
    )
    app = web.Application(middlewares=[_count])
    app[SIM_STATE] = state
    app.router.add_get("/files/{path:.+}", serve_file)  # GET also answers HEAD
    app.router.add_routes(ROUTES)
    app.router.add_routes(RECORDS_ROUTES)
    mast = install_mast(app, config.mast, config.cache_root, config.mast_knobs)
    runner, origin = await listen(app, host, port)
    return RunningSim(runner, state, origin + "/", mast)


async def listen(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on ``host:port`` (port 0 picks a free one), without an access log.

    Returns
    -------
    tuple of (aiohttp.web.AppRunner, str)
        The runner (``await runner.cleanup()`` stops serving) and the origin,
        ``http://HOST:PORT`` without a trailing slash.
    """
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = runner.addresses[0][1]
    except BaseException:
        await runner.cleanup()
        raise
    return runner, http_origin(host, bound_port)


def http_origin(host: str, port: int) -> str:
    """``http://HOST:PORT``, with an IPv6 address in brackets."""
    url_host = f"[{host}]" if ":" in host else host
    return f"http://{url_host}:{port}"


@web.middleware
async def _count(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/_sim/"):
        return await handler(request)
    stats = request.app[SIM_STATE].stats
    stats.record_request(request.method, "Range" in request.headers)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        stats.record_status(exc.status)
        raise
    stats.record_status(response.status)
    if isinstance(response, web.Response) and request.method != "HEAD":
        body = response.body
        if isinstance(body, bytes | bytearray):
            stats.record_bytes(request.path, len(body))
    return response
