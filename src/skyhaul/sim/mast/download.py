"""``GET``/``HEAD /api/v0.1/Download/file?uri=...``: one product's bytes, as MAST serves them.

Rules:
- The product's bytes are served like the archive's files
  (:mod:`skyhaul.sim.file_routes`): ``sendfile`` when clean, chunked with the fault
  knobs' body plan otherwise, one ``Range`` honoured with 206 (416 past the end),
  ``If-Range`` checked against the ETag or Last-Modified.
- Order: latency and refusal (fail path keyed by the URI, 429, 503), 400 without a
  ``uri``, 404 for an unknown one, then the body. The product is made on disk on its
  first request.
- Headers: ``Content-Type`` by kind, ``Content-Disposition`` with the file name;
  ``ETag``, ``Last-Modified`` and ``Accept-Ranges: bytes`` unless the MAST knobs turn
  them off. A product generated on request goes out chunked, without Content-Length
  (on HEAD too), without ``Accept-Ranges``, and ignores ``Range``.
- A ``corrupt_http`` product has its bytes inverted at fixed offsets (so every GET,
  ranged or not, sends the same wrong bytes); the fault knobs' flips come on top.
- Body bytes are counted under the product's URI in the server's
  :class:`skyhaul.sim.stats.SimStats`; GETs and HEADs per URI in the MAST counters.
"""

from __future__ import annotations

from email.utils import format_datetime

from aiohttp import web

from skyhaul.sim._range import UNSATISFIABLE, ByteSpan, if_range_matches, parse_range
from skyhaul.sim.appstate import SIM_STATE, json_error, refusal_for
from skyhaul.sim.bodies import SendfileResponse, send_mangled
from skyhaul.sim.decisions import BodyPlan
from skyhaul.sim.mast.content import CONTENT_TYPES
from skyhaul.sim.mast.files import ProductFile
from skyhaul.sim.mast.knobs import MastKnobs
from skyhaul.sim.mast.state import MAST_STATE


async def download_file(request: web.Request) -> web.StreamResponse:
    """Answer a GET or HEAD of ``Download/file``."""
    state, mast = request.app[SIM_STATE], request.app[MAST_STATE]
    mast.stats.record_request("download")
    uri = request.query.get("uri", "")
    refused = await refusal_for(state, uri)
    if refused is not None:
        return refused
    if not uri:
        return json_error(400, "give the product's uri")
    product = mast.dataset.product(uri)
    if product is None:
        return json_error(404, f"no such product: {uri}")
    mast.stats.record_download(uri, request.method)
    file = await mast.files.get(product)
    knobs = mast.knobs
    ranged = knobs.ranges and product.has_content_length
    headers = _headers(file, knobs, ranged)
    span, status = ByteSpan(0, file.size), 200
    wanted = _requested_span(request, file, knobs) if ranged else None
    if wanted is UNSATISFIABLE:
        headers["Content-Range"] = f"bytes */{file.size}"
        return web.Response(status=416, headers=headers)
    if wanted is not None:
        span, status = wanted, 206
        headers["Content-Range"] = f"bytes {span.start}-{span.stop - 1}/{file.size}"

    def on_sent(nbytes: int) -> None:
        state.stats.record_bytes(uri, nbytes)

    response = web.StreamResponse(status=status, headers=headers)
    if request.method == "HEAD":
        if product.has_content_length:
            response.content_length = span.length
        else:
            response.enable_chunked_encoding()
        return response
    faults = state.engine.body_plan(span.length)
    if faults.drop_after is not None:
        state.stats.record_event("dropped")
    if faults.corrupt_at and faults.corrupt_at[0] < (faults.drop_after or span.length):
        state.stats.record_event("corrupted")
    plan = _with_flips(faults, product.corrupt_offsets, span)
    if product.has_content_length and plan.is_clean:
        return SendfileResponse(
            file.disk_path, span, status=status, headers=headers, on_sent=on_sent
        )
    return await send_mangled(
        request,
        response,
        file.disk_path,
        span,
        plan,
        on_sent,
        announce_length=product.has_content_length,
    )


def _headers(file: ProductFile, knobs: MastKnobs, ranged: bool) -> dict[str, str]:
    product = file.product
    headers = {
        "Content-Type": CONTENT_TYPES[product.kind],
        "Content-Disposition": f'attachment; filename="{product.filename}"',
    }
    if ranged:
        headers["Accept-Ranges"] = "bytes"
    if knobs.etag:
        headers["ETag"] = file.etag
    if knobs.last_modified:
        headers["Last-Modified"] = format_datetime(file.last_modified, usegmt=True)
    return headers


def _requested_span(request: web.Request, file: ProductFile, knobs: MastKnobs) -> ByteSpan | None:
    """The span asked for, :data:`UNSATISFIABLE`, or None to send the whole product."""
    range_value = request.headers.get("Range")
    if range_value is None or request.app[SIM_STATE].engine.config.ignore_range:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None:
        # A validator the server did not send never matches.
        etag = file.etag if knobs.etag else ""
        is_date = not if_range.strip().startswith(('"', "W/"))
        if (is_date and not knobs.last_modified) or not if_range_matches(
            if_range, etag, file.last_modified
        ):
            return None
    return parse_range(range_value, file.size)


def _with_flips(plan: BodyPlan, offsets: tuple[int, ...], span: ByteSpan) -> BodyPlan:
    """``plan`` with the product's own flipped bytes added (as offsets in the span)."""
    flips = {at - span.start for at in offsets if span.start <= at < span.stop}
    if not flips:
        return plan
    return BodyPlan(plan.drop_after, tuple(sorted(flips | set(plan.corrupt_at))), plan.bandwidth)
