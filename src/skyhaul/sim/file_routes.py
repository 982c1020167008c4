"""``GET``/``HEAD /files/<path>``: one file, with validators, digest, ranges and faults.

Rules:
- Headers: ``Accept-Ranges: bytes``, a strong ``ETag`` and ``Last-Modified`` of the
  current generation, ``Repr-Digest`` (RFC 9530, of the whole file, also on 206) unless
  ``no_digest``.
- One ``Range`` is honoured with 206 and ``Content-Range``; past the end, 416 with
  ``Content-Range: bytes */size``; an ``If-Range`` that no longer matches, or
  ``ignore_range``, gives 200 with the full body.
- Order for each request: latency, refusal (fail path, 429, 503), 404 for an unknown
  path, new content (``change_every``/``p_change``), then the body plan.
- A clean body goes out with ``sendfile``; a planned fault streams it in chunks.
"""

from __future__ import annotations

from email.utils import format_datetime

from aiohttp import web

from skyhaul.sim._range import UNSATISFIABLE, ByteSpan, if_range_matches, parse_range
from skyhaul.sim.appstate import SIM_STATE, json_error, refusal_for
from skyhaul.sim.bodies import SendfileResponse, send_mangled
from skyhaul.sim.cache import FileVersion


async def serve_file(request: web.Request) -> web.StreamResponse:
    """Answer a GET or HEAD for one archive file."""
    state = request.app[SIM_STATE]
    path = request.match_info["path"]
    refused = await refusal_for(state, path)
    if refused is not None:
        return refused
    version = state.store.current(path)
    if version is None:
        return json_error(404, f"no such file: {path}")
    if state.engine.changes(path):
        version = await state.change_file(path)
    headers = _headers(version, digest=not state.engine.config.no_digest)
    span, status = ByteSpan(0, version.size), 200
    wanted = _requested_span(request, version, state.engine.config.ignore_range)
    if wanted is UNSATISFIABLE:
        headers["Content-Range"] = f"bytes */{version.size}"
        return web.Response(status=416, headers=headers)
    if wanted is not None:
        span, status = wanted, 206
        headers["Content-Range"] = f"bytes {span.start}-{span.stop - 1}/{version.size}"

    def on_sent(nbytes: int) -> None:
        state.stats.record_bytes(path, nbytes)

    plan = state.engine.body_plan(span.length) if request.method == "GET" else None
    if plan is None or plan.is_clean:
        return SendfileResponse(
            version.disk_path, span, status=status, headers=headers, on_sent=on_sent
        )
    if plan.drop_after is not None:
        state.stats.record_event("dropped")
    if plan.corrupt_at and plan.corrupt_at[0] < (plan.drop_after or span.length):
        state.stats.record_event("corrupted")
    response = web.StreamResponse(status=status, headers=headers)
    return await send_mangled(request, response, version.disk_path, span, plan, on_sent)


def _headers(version: FileVersion, *, digest: bool) -> dict[str, str]:
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": version.etag,
        "Last-Modified": format_datetime(version.last_modified, usegmt=True),
        "Content-Type": "application/fits"
        if version.file.kind == "fits"
        else "application/octet-stream",
    }
    if digest:
        headers["Repr-Digest"] = version.repr_digest
    return headers


def _requested_span(
    request: web.Request, version: FileVersion, ignore_range: bool
) -> ByteSpan | None:
    """The span asked for, :data:`UNSATISFIABLE`, or None to send the whole file."""
    range_value = request.headers.get("Range")
    if range_value is None or ignore_range:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and not if_range_matches(if_range, version.etag, version.last_modified):
        return None
    return parse_range(range_value, version.size)
