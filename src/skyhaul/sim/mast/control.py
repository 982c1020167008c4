"""The simulated MAST's control plane (``/_sim/mast...``), for tests and operators.

Rules:
- ``GET /_sim/mast``: where MAST is (``server``, the value of astroquery's
  ``[mast] server``), the dataset's size, the knobs and the endpoints.
- ``GET /_sim/mast/products[?obs_id=ID]``: every product (or an observation's, by
  ``obs_id`` or ``obsid``) with its SHA-256s; the products are made on disk first.
- ``GET``/``POST /_sim/mast/knobs``: a JSON object of knobs merged into the current
  ones, or into the defaults with ``"reset": true``; a bad knob: 400.
- ``GET /_sim/mast/stats``, ``POST /_sim/mast/reset-stats``: the MAST counters.
- Like all of ``/_sim/``, never faulted and never counted.
"""

from __future__ import annotations

import json

from aiohttp import web

from skyhaul.errors import ConfigError
from skyhaul.sim.appstate import json_error
from skyhaul.sim.mast.knobs import MastKnobs
from skyhaul.sim.mast.routes import BUNDLE, COLUMNS_CONFIG, DOWNLOAD, INVOKE, PATH_LOOKUP, SANTA
from skyhaul.sim.mast.services import SERVICES
from skyhaul.sim.mast.state import MAST_STATE

ROUTES = web.RouteTableDef()


@ROUTES.get("/_sim/mast")
async def _summary(request: web.Request) -> web.Response:
    mast = request.app[MAST_STATE]
    dataset = mast.dataset
    return web.json_response(
        {
            "server": str(request.url.origin()),
            "profile": dataset.spec.profile,
            "seed": dataset.spec.seed,
            "observations": len(dataset.observations),
            "products": len(dataset.products),
            "bytes": dataset.total_size,
            "services": list(SERVICES),
            "knobs": mast.knobs.to_json(),
            "endpoints": [INVOKE, COLUMNS_CONFIG, SANTA, PATH_LOOKUP, DOWNLOAD, BUNDLE],
        }
    )


@ROUTES.get("/_sim/mast/products")
async def _products(request: web.Request) -> web.Response:
    mast = request.app[MAST_STATE]
    wanted = request.query.get("obs_id")
    try:
        products = mast.dataset.products if wanted is None else mast.dataset.products_of(wanted)
    except KeyError:
        return json_error(404, f"no such observation: {wanted}")
    files = await mast.files.get_many(products)
    return web.json_response([file.to_json() for file in files])


@ROUTES.get("/_sim/mast/knobs")
async def _knobs(request: web.Request) -> web.Response:
    return web.json_response(request.app[MAST_STATE].knobs.to_json())


@ROUTES.post("/_sim/mast/knobs")
async def _set_knobs(request: web.Request) -> web.Response:
    mast = request.app[MAST_STATE]
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError as exc:
        return json_error(400, f"body is not JSON: {exc}")
    if not isinstance(body, dict):
        return json_error(400, "body must be a JSON object")
    base = MastKnobs() if body.pop("reset", False) is True else mast.knobs
    try:
        knobs = MastKnobs.from_mapping(body, base=base)
    except ConfigError as exc:
        return json_error(400, str(exc))
    mast.configure(knobs)
    return web.json_response(knobs.to_json())


@ROUTES.get("/_sim/mast/stats")
async def _stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[MAST_STATE].stats.snapshot().to_json())


@ROUTES.post("/_sim/mast/reset-stats")
async def _reset_stats(request: web.Request) -> web.Response:
    stats = request.app[MAST_STATE].stats
    stats.reset()
    return web.json_response(stats.snapshot().to_json())
