"""``GET /api/records``: time-windowed dosimeter records, like the UDL's REACH endpoint.

Rules:
- ``GET`` only (``HEAD``: 405). Query: ``obTime=START..END`` (required, half-open, at
  most one day), ``sensor`` (``ALL`` by default, or one id) and ``descriptor``
  (``QUICKLOOK``); see :class:`skyhaul.sim.records.RecordsQuery`. A bad query: 400 with
  a JSON error.
- Order for each request: it is counted; the API faults apply when ``faults_on_api``
  (latency, file rate limit, 503, fail path); then the records gate (its own rate limit:
  429 with ``Retry-After``; then the token: 401); then the query (400); then the body.
- A window touching a ``records_malformed_days`` day: 200 with a truncated body.
  Otherwise 200 with the JSON array (``[]`` when empty): up to :data:`STREAM_ABOVE`
  records in one body with ``Content-Length``; more are streamed piece by piece, so a day
  of ``ALL`` (1.1 million records, 220 MB) neither sits in memory nor holds the loop.
- Counted here: records requests, their 429s, records served in valid 200 bodies, and
  the bytes of streamed bodies (the server's middleware counts the other bodies' bytes).
"""

from __future__ import annotations

import asyncio

from aiohttp import hdrs, web

from skyhaul.sim.appstate import SIM_STATE, SimState, api_refusal, json_error
from skyhaul.sim.records import (
    CHUNK_RECORDS,
    RecordsQuery,
    RecordsQueryError,
    expected_records,
    iter_json_pieces,
    records_json,
    truncated_json,
)
from skyhaul.sim.records_config import RecordsConfig

ROUTES = web.RouteTableDef()
STREAM_ABOVE = CHUNK_RECORDS
"""Windows that may hold more records than this are streamed (chunked encoding)."""

_JSON = "application/json"


@ROUTES.get("/api/records", allow_head=False)  # GET only: no body to describe
async def serve_records(request: web.Request) -> web.StreamResponse:
    """Answer a records query (see the module's rules)."""
    state = request.app[SIM_STATE]
    state.stats.record_event("records_requests")
    response = await _answer(request, state)
    if response.status == 429:
        state.stats.record_event("records_throttled")
    return response


async def _answer(request: web.Request, state: SimState) -> web.StreamResponse:
    refused = await api_refusal(state, request.path)
    if refused is not None:
        return refused
    now = asyncio.get_running_loop().time()
    refusal = state.records.refusal(request.headers.get(hdrs.AUTHORIZATION), now)
    if refusal is not None:
        return json_error(refusal.status, refusal.reason, refusal.headers)
    config = state.records.config
    try:
        query = RecordsQuery.from_query(request.query, config)
    except RecordsQueryError as exc:
        return json_error(400, str(exc))
    if any(day in config.malformed_days for day in query.days()):
        return web.Response(text=truncated_json(config, query), content_type=_JSON)
    if expected_records(config, query) > STREAM_ABOVE:
        return await _stream(request, state, config, query)
    body, count = records_json(config, query)
    state.stats.record_event("records_served", count)
    return web.Response(body=body.encode(), content_type=_JSON)


async def _stream(
    request: web.Request, state: SimState, config: RecordsConfig, query: RecordsQuery
) -> web.StreamResponse:
    response = web.StreamResponse(headers={hdrs.CONTENT_TYPE: _JSON})
    response.enable_chunked_encoding()
    await response.prepare(request)
    served = 0
    for text, count in iter_json_pieces(config, query):
        data = text.encode()
        await response.write(data)  # waits while the client is slow: the loop goes on
        state.stats.record_bytes(request.path, len(data))
        served += count
    await response.write_eof()
    state.stats.record_event("records_served", served)
    return response
