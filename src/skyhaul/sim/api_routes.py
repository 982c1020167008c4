"""The catalogue (``/api/...``) and the control plane (``/_sim/...``) of the simulator.

Rules:
- ``GET /api/files``, ``/api/manifest.json``, ``/api/manifest.csv`` take the filters of
  :class:`skyhaul.sim.listing.ListingFilter` (``instrument``, ``slot``, ``start``,
  ``end``, ``by``); ``GET /api/slots`` takes ``start`` and ``end``. A bad filter: 400.
  URLs in listings are absolute, built from the request's own origin. ``/api/records``
  lives in :mod:`skyhaul.sim.records_routes`.
- ``/_sim/`` is for tests and operators: ``GET /_sim/stats``, ``POST /_sim/reset-stats``,
  ``GET``/``POST /_sim/faults`` (a JSON object of knobs merged into the current ones, or
  into the defaults with ``"reset": true``; a bad knob: 400), ``POST /_sim/change``
  with ``{"path": ...}`` to give a file new content now, and ``POST /_sim/publish`` with
  ``{"until": TIME}`` (or null) to list only files downlinked by then, as if the archive's
  clock stood there. It is never faulted.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from skyhaul.errors import ConfigError
from skyhaul.sim.appstate import SIM_STATE, api_refusal, file_url, json_error
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.listing import (
    FilterError,
    ListedFile,
    ListingFilter,
    iso_z,
    manifest_csv,
    parse_window,
    slots_json,
)

ROUTES = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.Response]]


def _catalogue(render: Callable[[list[ListedFile]], web.Response]) -> Handler:
    """A handler that lists the files the query selects and renders them."""

    async def handler(request: web.Request) -> web.Response:
        refused = await api_refusal(request.app[SIM_STATE], request.path)
        if refused is not None:
            return refused
        try:
            selection = ListingFilter.from_query(request.query)
        except FilterError as exc:
            return json_error(400, str(exc))
        state = request.app[SIM_STATE]
        return render(state.listing(str(request.url.origin()), selection))

    return handler


ROUTES.get("/api/files")(
    _catalogue(lambda listing: web.json_response([e.to_json() for e in listing]))
)
ROUTES.get("/api/manifest.json")(
    _catalogue(lambda listing: web.json_response([e.manifest_row() for e in listing]))
)
ROUTES.get("/api/manifest.csv")(
    _catalogue(lambda listing: web.Response(text=manifest_csv(listing), content_type="text/csv"))
)


@ROUTES.get("/api/slots")
async def _api_slots(request: web.Request) -> web.Response:
    refused = await api_refusal(request.app[SIM_STATE], request.path)
    if refused is not None:
        return refused
    try:
        start, end = parse_window(request.query)
    except FilterError as exc:
        return json_error(400, str(exc))
    slots = request.app[SIM_STATE].store.archive.slots
    return web.json_response(slots_json(slots, start, end))


@ROUTES.get("/")
async def _index(request: web.Request) -> web.Response:
    archive = request.app[SIM_STATE].store.archive
    return web.json_response(
        {
            "service": "skyhaul-sim",
            "files": len(archive.files),
            "bytes": archive.total_size,
            "kind": archive.spec.kind,
            "seed": archive.spec.seed,
            "endpoints": [
                "/files/<path>",
                "/api/files",
                "/api/manifest.csv",
                "/api/manifest.json",
                "/api/slots",
                "/api/records",
                "/_sim/stats",
                "/_sim/reset-stats",
                "/_sim/faults",
                "/_sim/change",
                "/_sim/publish",
            ],
        }
    )


@ROUTES.get("/_sim/stats")
async def _sim_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIM_STATE].stats.snapshot().to_json())


@ROUTES.post("/_sim/reset-stats")
async def _sim_reset_stats(request: web.Request) -> web.Response:
    stats = request.app[SIM_STATE].stats
    stats.reset()
    return web.json_response(stats.snapshot().to_json())


@ROUTES.get("/_sim/faults")
async def _sim_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIM_STATE].engine.config.to_json())


@ROUTES.post("/_sim/faults")
async def _sim_set_faults(request: web.Request) -> web.Response:
    state = request.app[SIM_STATE]
    body = await _json_object(request)
    if isinstance(body, web.Response):
        return body
    base = FaultConfig() if body.pop("reset", False) is True else state.engine.config
    try:
        faults = FaultConfig.from_mapping(body, base=base)
    except ConfigError as exc:
        return json_error(400, str(exc))
    state.configure(faults)
    return web.json_response(faults.to_json())


@ROUTES.post("/_sim/publish")
async def _sim_publish(request: web.Request) -> web.Response:
    state = request.app[SIM_STATE]
    body = await _json_object(request)
    if isinstance(body, web.Response):
        return body
    until = body.get("until")
    try:
        state.published_until = parse_window({"start": str(until)})[0] if until else None
    except FilterError as exc:
        return json_error(400, str(exc).replace("start", "until", 1))
    shown = None if state.published_until is None else iso_z(state.published_until)
    return web.json_response({"until": shown})


@ROUTES.post("/_sim/change")
async def _sim_change(request: web.Request) -> web.Response:
    state = request.app[SIM_STATE]
    body = await _json_object(request)
    if isinstance(body, web.Response):
        return body
    path = str(body.get("path", ""))
    try:
        version = await state.change_file(path)
    except KeyError:
        return json_error(404, f"no such file: {path}")
    url = file_url(str(request.url.origin()), path)
    return web.json_response(ListedFile(url, version).to_json())


async def _json_object(request: web.Request) -> dict[str, object] | web.Response:
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError as exc:
        return json_error(400, f"body is not JSON: {exc}")
    if not isinstance(body, dict):
        return json_error(400, "body must be a JSON object")
    return body
