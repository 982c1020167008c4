"""What a request handler needs from the running server (set up by the app's lifespan)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from skyhaul.adapters.catalog import Catalog
from skyhaul.services.live_jobs import LiveJobs
from skyhaul.web.auth import Gate
from skyhaul.web.feeds import FeedHub
from skyhaul.web.settings import WebSettings

__all__ = ["Server", "server"]


@dataclass(slots=True)
class Server:
    """The long-lived parts of one ``skyhaul serve``.

    Parameters
    ----------
    settings : WebSettings
        What it serves.
    catalog : Catalog
        The open catalog (the source of truth).
    live : LiveJobs
        The jobs it runs itself.
    hub : FeedHub
        Its live topics (jobs followed by browsers).
    gate : Gate
        Its token and CSRF value.
    """

    settings: WebSettings
    catalog: Catalog
    live: LiveJobs
    hub: FeedHub
    gate: Gate


def server(request: Request) -> Server:
    """The server handling ``request`` (a FastAPI dependency)."""
    running: Server = request.app.state.server
    return running
