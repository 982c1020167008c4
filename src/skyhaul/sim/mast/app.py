"""Put the simulated MAST on a simulator's aiohttp app: its state and all its routes.

Rules:
- One call, :func:`install_mast`, from :func:`skyhaul.sim.server.start_server`: MAST is
  always on, on the same port as the archive. It lays out the dataset (metadata only,
  milliseconds); products are made on disk when first asked for.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from skyhaul.sim.mast.control import ROUTES as CONTROL_ROUTES
from skyhaul.sim.mast.download import download_file
from skyhaul.sim.mast.knobs import MastKnobs
from skyhaul.sim.mast.routes import DOWNLOAD
from skyhaul.sim.mast.routes import ROUTES as QUERY_ROUTES
from skyhaul.sim.mast.spec import MastSpec
from skyhaul.sim.mast.state import MAST_STATE, MastState


def install_mast(
    app: web.Application, spec: MastSpec, root: Path, knobs: MastKnobs | None = None
) -> MastState:
    """Add MAST's state and routes to ``app``.

    Parameters
    ----------
    app : aiohttp.web.Application
        The simulator's app (which holds its ``SIM_STATE``).
    spec : MastSpec
        The dataset.
    root : Path
        Cache root under which products are made.
    knobs : MastKnobs, optional
        MAST knobs in force at start (default: all off).

    Returns
    -------
    MastState
        The state the routes share.
    """
    state = MastState.create(spec, root, knobs)
    app[MAST_STATE] = state
    app.router.add_get(DOWNLOAD, download_file)  # GET also answers HEAD
    app.router.add_routes(QUERY_ROUTES)
    app.router.add_routes(CONTROL_ROUTES)
    return state
