"""MAST's query endpoints on the simulator: invoke, columnsconfig, SANTA, path lookup, bundle.

Rules:
- ``GET``/``POST /api/v0/invoke``: the form field (or query parameter) ``request``
  holds the URL-encoded JSON request (:mod:`skyhaul.sim.mast.services`). An unreadable
  request: HTTP 400 with an ``ERROR`` body; a refused one: 200 with status ``ERROR``;
  the knobs may answer ``EXECUTING`` or ``ERROR`` first (:mod:`skyhaul.sim.mast.state`).
- ``POST``/``GET /portal/Mashup/Mashup.asmx/columnsconfig`` with ``colConfigId``: the
  columns of the observation services or of ``Mast.Caom.Products``; an unknown id gets
  an empty object, as MAST "returns nothing" then.
- ``GET /Santa-war/query?name=..&name=..&outputFormat=json[&resolver=..][&resolveAll=..]``
  resolves the dataset's target names (:mod:`skyhaul.sim.mast.resolver`).
- ``GET``/``POST /api/v0.1/path_lookup/?uri=..&uri=..[&use_cloud_path=True]``:
  ``{uri: {"status_code": 200, "path": "/<key>"}}``, or ``404`` and ``path: null`` for
  a product not in the cloud (or unknown).
- ``POST /api/v0.1/Download/bundle.sh`` with repeated ``uri`` fields: a shell script of
  ``curl`` lines, one per known product, fetching ``Download/file`` from this server.
- The server-wide fault knobs apply to these routes only with ``faults_on_api``; the
  MAST counters (:mod:`skyhaul.sim.mast.stats`) count every request. A POST body that
  is not a readable form is answered 400 (``{"error": ...}``), never with a traceback.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDict

from skyhaul.sim.appstate import SIM_STATE, api_refusal, json_error
from skyhaul.sim.mast.columns import OBSERVATION_CONFIG, PRODUCT_CONFIG
from skyhaul.sim.mast.resolver import santa_answer
from skyhaul.sim.mast.services import (
    RequestError,
    ServiceError,
    error_answer,
    invoke,
    parse_request,
)
from skyhaul.sim.mast.state import MAST_STATE

ROUTES = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.Response]]

INVOKE = "/api/v0/invoke"
COLUMNS_CONFIG = "/portal/Mashup/Mashup.asmx/columnsconfig"
SANTA = "/Santa-war/query"
PATH_LOOKUP = "/api/v0.1/path_lookup/"
DOWNLOAD = "/api/v0.1/Download/file"
BUNDLE = "/api/v0.1/Download/bundle.sh"

_CONFIGS = {
    "Mast.Caom.Cone": OBSERVATION_CONFIG,
    "Mast.Caom.Filtered": OBSERVATION_CONFIG,
    "Mast.Caom.Filtered.Position": OBSERVATION_CONFIG,
    "Mast.Caom.Products": PRODUCT_CONFIG,
}


class FormError(ValueError):
    """A request body that is not a form the server can read (answered with 400)."""


def _endpoint(name: str) -> Callable[[Handler], Handler]:
    """Count requests to the endpoint, apply the API faults (``faults_on_api``), and
    answer an unreadable form with 400."""

    def decorate(handler: Handler) -> Handler:
        async def counted(request: web.Request) -> web.Response:
            request.app[MAST_STATE].stats.record_request(name)
            refused = await api_refusal(request.app[SIM_STATE], request.path)
            if refused is not None:
                return refused
            try:
                return await handler(request)
            except FormError as exc:
                return json_error(400, str(exc))

        return counted

    return decorate


async def form_fields(request: web.Request) -> MultiDict[str]:
    """The query parameters, and for a POST the form fields after them.

    Raises
    ------
    FormError
        If the body cannot be read as a form (bad multipart, bytes that are not text).
    """
    merged: MultiDict[str] = MultiDict(request.query)
    if request.method == "POST":
        try:
            posted = await request.post()
        except (ValueError, HttpProcessingError) as exc:
            raise FormError(f"cannot read the form: {str(exc).strip()}") from None
        merged.extend((k, v) for k, v in posted.items() if isinstance(v, str))
    return merged


@_endpoint("invoke")
async def _invoke(request: web.Request) -> web.Response:
    mast = request.app[MAST_STATE]
    text = (await form_fields(request)).get("request")
    try:
        mashup = parse_request(text)
    except RequestError as exc:
        mast.stats.record_answer(None, "invalid")
        return web.json_response(error_answer(str(exc)), status=400)
    status = mast.status_for(text or "", mashup.service)
    if status == "ERROR":
        answer = error_answer(f"{mashup.service} failed (skyhaul-sim MAST knob)")
    elif status == "EXECUTING":
        answer = {"status": "EXECUTING", "msg": "", "fields": [], "data": []}
    else:
        try:
            answer = invoke(mast.dataset, mashup)
        except ServiceError as exc:
            answer = error_answer(str(exc))
    mast.stats.record_answer(mashup.service, str(answer.get("status", "COMPLETE")))
    return web.json_response(answer)


@_endpoint("columnsconfig")
async def _columns_config(request: web.Request) -> web.Response:
    wanted = (await form_fields(request)).get("colConfigId", "")
    return web.json_response(_CONFIGS.get(wanted, {}))


@_endpoint("resolver")
async def _santa(request: web.Request) -> web.Response:
    query = request.query
    if query.get("outputFormat", "json").lower() != "json":
        return json_error(400, "the simulator answers outputFormat=json only")
    resolve_all = query.get("resolveAll", "false").lower() == "true"
    answer = santa_answer(
        request.app[MAST_STATE].dataset,
        query.getall("name", []),
        query.get("resolver"),
        resolve_all,
    )
    return web.json_response(answer)


@_endpoint("path_lookup")
async def _path_lookup(request: web.Request) -> web.Response:
    mast = request.app[MAST_STATE]
    uris = (await form_fields(request)).getall("uri", [])
    mast.stats.record_path_lookup(len(uris))
    if not uris:
        return json_error(400, "give one or more uri parameters")
    answer: dict[str, dict[str, object]] = {}
    for uri in uris:
        product = mast.dataset.product(uri)
        key = product.cloud_key if product is not None else None
        answer[uri] = (
            {"status_code": 200, "path": f"/{key}"}
            if key is not None
            else {"status_code": 404, "path": None}
        )
    return web.json_response(answer)


@_endpoint("bundle")
async def _bundle(request: web.Request) -> web.Response:
    dataset = request.app[MAST_STATE].dataset
    uris = (await form_fields(request)).getall("uri", [])
    if not uris:
        return json_error(400, "give one or more uri fields")
    folder = f"MAST_{time.strftime('%Y-%m-%dT%H%M', time.gmtime())}"
    origin = str(request.url.origin())
    lines = ["#!/bin/sh", "#", f"# Requested from {origin} (skyhaul-sim)", "#", ""]
    for uri in uris:
        product = dataset.product(uri)
        if product is None:
            lines.append(f"# not found: {' '.join(uri.split())}")  # one comment line
            continue
        target = (
            f"{folder}/{product.observation.obs_collection}/{product.obs_id}/{product.filename}"
        )
        url = f"{origin}{DOWNLOAD}?uri={quote(uri, safe=':/')}"
        lines.append(
            f"curl --globoff --location-trusted -f --progress-bar --create-dirs"
            f" --output {shlex.quote(target)} {shlex.quote(url)}"
        )
    return web.Response(text="\n".join(lines) + "\n", content_type="text/x-sh")


for _path, _handler in (
    (INVOKE, _invoke),
    (COLUMNS_CONFIG, _columns_config),
    (PATH_LOOKUP, _path_lookup),
    (PATH_LOOKUP.rstrip("/"), _path_lookup),
):
    ROUTES.get(_path)(_handler)
    ROUTES.post(_path)(_handler)
ROUTES.get(SANTA)(_santa)
ROUTES.post(BUNDLE)(_bundle)
