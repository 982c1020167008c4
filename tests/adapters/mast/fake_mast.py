"""A small MAST on loopback (aiohttp.web) answering the documented shapes, for the adapter's,
the services' and the CLI's tests: invoke (EXECUTING, ERROR, paging, bad JSON, a wrong page),
name lookup, cone and filtered searches, products, batched path lookups and file downloads.

It records what it was asked (``invokes``, ``lookups``, ``downloads``) so that tests can
assert batching and polling. ``FakeMastThread`` runs it in a thread for synchronous
callers (the CLI through CliRunner, ``skyhaul.Client``).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from aiohttp import web
from tests.adapters.http.loopback import serve

Row = dict[str, object]


@dataclass
class FakeMast:
    """The archive's content and the faults to play; what it was asked."""

    observations: list[Row] = field(default_factory=list)
    products: list[Row] = field(default_factory=list)
    cloud: dict[str, str] = field(default_factory=dict)
    """dataURI -> cloud path (``/jwst/public/...``); others are not in the cloud."""
    files: dict[str, bytes] = field(default_factory=dict)
    """dataURI -> content served by ``Download/file``."""
    names: dict[str, tuple[float, float]] = field(default_factory=dict)
    executing: int = 0
    """EXECUTING answers before each query's COMPLETE one."""
    error: str | None = None
    """Answer every invoke with ERROR and this message."""
    raw_answer: bytes | None = None
    """Answer every invoke with these bytes (bad JSON)."""
    wrong_page: bool = False
    """Echo page 1 whatever page is asked for."""
    fail_downloads: int = 0
    """Downloads that answer 503 before one succeeds."""
    latency: float = 0.0
    """Seconds each download waits before it answers."""
    corrupt: set[str] = field(default_factory=set)
    """dataURIs whose downloads have a byte of their data flipped (same size)."""
    invokes: list[dict[str, object]] = field(default_factory=list)
    lookups: list[list[str]] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    _polls: dict[str, int] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v0/invoke", self._invoke)
        app.router.add_get("/api/v0.1/path_lookup/", self._path_lookup)
        app.router.add_get("/api/v0.1/Download/file", self._download)
        return app

    def services(self) -> list[object]:
        return [request["service"] for request in self.invokes]

    async def _invoke(self, request: web.Request) -> web.Response:
        form = await request.post()
        body = json.loads(str(form["request"]))
        self.invokes.append(body)
        if self.raw_answer is not None:
            return web.Response(body=self.raw_answer, content_type="application/json")
        if self.error is not None:
            return web.json_response({"status": "ERROR", "msg": self.error, "data": []})
        key = json.dumps({k: v for k, v in body.items() if k != "cacheBreaker"}, sort_keys=True)
        polls = self._polls.get(key, 0)
        if polls < self.executing:
            self._polls[key] = polls + 1
            return web.json_response({"status": "EXECUTING", "msg": "", "data": []})
        service = str(body["service"])
        params = body["params"]
        assert isinstance(params, dict)
        if service == "Mast.Name.Lookup":
            found = self.names.get(str(params["input"]).lower())
            coordinates = (
                []
                if found is None
                else [
                    {
                        "searchString": str(params["input"]).lower(),
                        "resolver": "FAKE",
                        "canonicalName": str(params["input"]).upper(),
                        "ra": found[0],
                        "decl": found[1],
                    }
                ]
            )
            return web.json_response({"resolvedCoordinate": coordinates, "status": ""})
        rows = self._rows(service, params)
        page, size = int(str(body["page"])), int(str(body["pagesize"]))
        pages = max(1, math.ceil(len(rows) / size))
        chunk = rows[(page - 1) * size : page * size]
        return web.json_response(
            {
                "status": "COMPLETE",
                "msg": "",
                "paging": {
                    "page": 1 if self.wrong_page else page,
                    "pageSize": size,
                    "pagesFiltered": pages,
                    "rows": len(chunk),
                    "rowsFiltered": len(rows),
                    "rowsTotal": len(rows),
                },
                "fields": [{"name": name, "type": "string"} for name in (chunk or [{}])[0]],
                "data": [{**row, "_selected_": None} for row in chunk],
            }
        )

    def _rows(self, service: str, params: Mapping[str, object]) -> list[Row]:
        if service == "Mast.Caom.Products":
            wanted = set(str(params["obsid"]).split(","))
            return [p for p in self.products if str(p.get("obsID")) in wanted]
        rows = list(self.observations)
        if service in ("Mast.Caom.Cone", "Mast.Caom.Filtered.Position"):
            if service == "Mast.Caom.Cone":
                ra, dec, radius = (float(str(params[k])) for k in ("ra", "dec", "radius"))
            else:
                ra, dec, radius = (float(v) for v in str(params["position"]).split(","))
            rows = [r for r in rows if _separation(r, ra, dec) <= radius]
        filters = params.get("filters", [])
        assert isinstance(filters, list)
        for f in filters:  # as MAST: any letter case; freeText is LIKE (% only here)
            values = {str(v).lower() for v in f["values"]}
            pattern = str(f.get("freeText", "")).lower().replace("%", ".*")
            rows = [
                r
                for r in rows
                if str(r.get(f["paramName"])).lower() in values
                or (pattern and re.fullmatch(pattern, str(r.get(f["paramName"])).lower()))
            ]
        return rows

    async def _path_lookup(self, request: web.Request) -> web.Response:
        uris = request.query.getall("uri", [])
        assert request.query.get("use_cloud_path") == "True"
        self.lookups.append(list(uris))
        answer = {}
        for uri in uris:
            path = self.cloud.get(uri)
            answer[uri] = {"status_code": 200 if path else 404, "path": path}
        return web.json_response(answer)

    async def _download(self, request: web.Request) -> web.Response:
        # The URI as it arrives: the client escaped its ? and & (quote(uri, safe=':/')).
        pairs = parse_qsl(request.query_string, keep_blank_values=True)
        uri = pairs[0][1] if pairs and pairs[0][0] == "uri" else ""
        self.downloads.append(uri)
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.fail_downloads > 0:
            self.fail_downloads -= 1
            return web.Response(status=503, text="busy")
        body = self.files.get(uri)
        if body is None:
            return web.Response(status=404, text="no such product")
        if uri in self.corrupt:  # a byte of the first data block (after one header block)
            body = body[:2890] + bytes([body[2890] ^ 0xFF]) + body[2891:]
        headers = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        wanted = request.http_range
        if wanted.start is not None or wanted.stop is not None:
            start = wanted.start or 0
            stop = min(len(body), wanted.stop or len(body))
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(body)}"
            return web.Response(status=206, body=body[start:stop], headers=headers)
        return web.Response(body=body, headers=headers)


def _separation(row: Mapping[str, object], ra: float, dec: float) -> float:
    """Degrees between a row's position and (ra, dec) (haversine)."""
    r1, d1 = math.radians(float(str(row["s_ra"]))), math.radians(float(str(row["s_dec"])))
    r2, d2 = math.radians(ra), math.radians(dec)
    h = math.sin((d2 - d1) / 2) ** 2 + math.cos(d1) * math.cos(d2) * math.sin((r2 - r1) / 2) ** 2
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(h))))


@contextmanager
def fake_mast_thread(fake: FakeMast) -> Iterator[str]:
    """Serve ``fake`` from a thread of its own; yield its URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, object] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        runner, url = loop.run_until_complete(serve(fake.app()))
        box["runner"], box["url"] = runner, url
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="fake-mast", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise AssertionError("the fake MAST did not start")
    try:
        yield str(box["url"])
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


# --- a small archive ------------------------------------------------------------------


def observation(obsid: int, obs_id: str, **columns: object) -> Row:
    """An observation row with MAST's columns (JWST NIRCam by default)."""
    return {
        "obsid": str(obsid),
        "obs_id": obs_id,
        "obs_collection": "JWST",
        "instrument_name": "NIRCAM/IMAGE",
        "target_name": "NGC-1300",
        "s_ra": 49.92,
        "s_dec": -19.41,
        "t_min": 59800.25,
        "t_max": 59800.5,
        "dataproduct_type": "image",
        "calib_level": 3,
        "proposal_id": "2727",
        **columns,
    }


def product(obsid: int, obs_id: str, filename: str, size: int, **columns: object) -> Row:
    """A product row (SCIENCE by default) whose dataURI ends with ``filename``."""
    return {
        "obsID": str(obsid),
        "obs_collection": "JWST",
        "dataproduct_type": "image",
        "obs_id": obs_id,
        "description": "calibrated image",
        "type": "S",
        "dataURI": f"mast:JWST/product/{filename}",
        "productType": "SCIENCE",
        "productGroupDescription": "Minimum Recommended Products",
        "productSubGroupDescription": "I2D",
        "productDocumentationURL": "",
        "project": "CALJWST",
        "prvversion": "1.11.3",
        "productFilename": filename,
        "size": size,
        **columns,
    }


def fits_file(name: str, values: int = 100) -> bytes:
    """A small valid FITS file (CHECKSUM and DATASUM set) whose data depend on ``name``."""
    import io

    import numpy as np
    from astropy.io import fits

    seed = sum(name.encode())
    hdu = fits.PrimaryHDU(data=(np.arange(values, dtype=np.int16) + seed))
    hdu.header["OBJECT"] = name[:60]
    out = io.BytesIO()
    hdu.writeto(out, checksum=True)
    return out.getvalue()


#: The stocked archive's observations.
OBS_A = "jw02727-o002_t062_nircam_clear-f277w"
OBS_B = "jw02727-o003_t062_nircam_clear-f444w"
MEMBER = "jw02727002001_02101_00001_nrcb1"


def stock(fake: FakeMast) -> None:
    """Two JWST observations: A with two science files in the cloud (one of a member
    exposure) and a preview that is not; B (calib level 2) with one science file not in
    the cloud. Every file is a small valid FITS file (the preview too)."""
    fake.names["ngc 1300"] = (49.92, -19.41)
    fake.observations = [observation(1001, OBS_A), observation(1002, OBS_B, calib_level=2)]
    listing = [
        (1001, OBS_A, f"{OBS_A}_i2d.fits", "SCIENCE", True),
        (1001, MEMBER, f"{MEMBER}_cal.fits", "SCIENCE", True),
        (1001, OBS_A, f"{OBS_A}_i2d.jpg", "PREVIEW", False),
        (1002, OBS_B, f"{OBS_B}_i2d.fits", "SCIENCE", False),
    ]
    for obsid, obs_id, name, kind, in_cloud in listing:
        body = fits_file(name, 50 + len(name))
        row = product(obsid, obs_id, name, len(body), productType=kind)
        fake.products.append(row)
        uri = str(row["dataURI"])
        fake.files[uri] = body
        if in_cloud:
            fake.cloud[uri] = f"/jwst/public/jw02727/L3/t/{name}"


def stock_many(fake: FakeMast, count: int, obs_id: str = "jw01234-o001_t001_miri_f770w") -> None:
    """One MIRI observation (obsid 2001) of ``count`` small science files, none in the cloud."""
    fake.observations.append(observation(2001, obs_id, instrument_name="MIRI/IMAGE"))
    for index in range(count):
        name = f"{obs_id}_{index:03d}_cal.fits"
        body = fits_file(name, 40 + index)
        row = product(2001, obs_id, name, len(body))
        fake.products.append(row)
        fake.files[str(row["dataURI"])] = body
