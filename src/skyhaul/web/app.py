"""The web app: a JSON API (with its OpenAPI schema) and live pages over the services.

Rules:
- The lifespan owns the long-lived parts: the catalog, the jobs this server runs, the live
  topics. Stopping the server cancels its runs (files stay resumable, jobs resumable).
- Handlers only parse, call a service and render (as ``cli/`` does); nothing here
  downloads or decides.
- Every request passes the token gate (:mod:`skyhaul.web.auth`) first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.services.live_jobs import LiveJobs
from skyhaul.version import __version__
from skyhaul.web import api_backfill, api_files, api_jobs, api_mast, api_observatory, pages
from skyhaul.web.auth import Gate, TokenGate
from skyhaul.web.deps import Server
from skyhaul.web.errors import install_error_handlers
from skyhaul.web.feeds import FeedHub
from skyhaul.web.settings import WebSettings

__all__ = ["STATIC_DIR", "create_app", "end_streams"]

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: WebSettings, *, catalog: Catalog | None = None) -> FastAPI:
    """Build the web app.

    Parameters
    ----------
    settings : WebSettings
        Catalog, configuration, token, destination of imports, intervals.
    catalog : Catalog or None
        An open catalog to serve (the caller closes it); None opens (and creates) the one
        ``settings`` names when the app starts, and closes it when it stops.
    """
    gate = Gate(settings.token)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if catalog is None:
            opened = await asyncio.to_thread(open_catalog, settings.catalog)
        else:
            opened = catalog
        running = Server(settings, opened, LiveJobs(), FeedHub(), gate)
        app.state.server = running
        try:
            yield
        finally:
            await running.hub.aclose()
            await running.live.aclose()
            if catalog is None:
                opened.close()

    app = FastAPI(
        title="skyhaul",
        version=__version__,
        description=(
            "Jobs, files, backfill ledgers, MAST imports and the observatory's packages"
            " of one skyhaul catalog."
        ),
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(api_jobs.router)
    app.include_router(api_files.router)
    app.include_router(api_backfill.router)
    app.include_router(api_mast.router)
    app.include_router(api_observatory.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(TokenGate, gate=gate)
    return app


async def end_streams(app: FastAPI) -> None:
    """End every open event stream of ``app`` (its server is stopping).

    A server waits for every open answer before the app's lifespan ends, and an event
    stream never ends on its own: call this first, or the server never stops.
    """
    running: Server | None = getattr(app.state, "server", None)
    if running is not None:
        await running.hub.aclose()
