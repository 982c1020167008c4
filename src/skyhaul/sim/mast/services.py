"""``/api/v0/invoke``'s services, as pure functions of the dataset and a request.

Rules:
- A request is the JSON object of the form field ``request``: ``service``, ``params``,
  ``format`` (``json``), ``pagesize`` (default 50000) and ``page`` (default 1); other
  properties (``cacheBreaker``, ``timeout``, ...) are ignored. A request that cannot be
  read raises :class:`RequestError` (HTTP 400); a readable one the service refuses
  (unknown service, bad parameter) raises :class:`ServiceError` (status ``ERROR``).
- Services: ``Mast.Caom.Cone`` (``ra``, ``dec``, ``radius`` in degrees), ``Mast.Caom.Filtered``
  (``columns``, ``filters``), ``Mast.Caom.Filtered.Position`` (also ``position``:
  ``"ra, dec, radius"``), ``Mast.Caom.Products`` (``obsid``: ids joined by commas) and
  ``Mast.Name.Lookup`` (``input``).
- A position search finds the observations whose footprint reaches into the circle
  (center closer than the radius plus the footprint's), nearest first, with
  ``distance``: arcseconds from the position to the observation's center.
- ``columns`` is ``*``, a comma-separated list of columns, or ``COUNT_BIG(*)`` for a
  count (``fields: [Column1]``, ``data: [{"Column1": N}]``).
- Paging echoes ``page`` exactly; ``pagesFiltered`` is the number of pages of
  ``pagesize`` rows (0 when nothing matches); a page past the end is empty.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from skyhaul.sim.mast.columns import (
    DISTANCE,
    OBSERVATION_COLUMNS,
    PRODUCT_COLUMNS,
    Column,
    fields,
    row,
)
from skyhaul.sim.mast.dataset import MastDataset, MastObservation
from skyhaul.sim.mast.filters import FilterError, compile_filters
from skyhaul.sim.mast.resolver import name_lookup_answer

DEFAULT_PAGESIZE = 50000
Answer = dict[str, object]


class RequestError(ValueError):
    """A request that cannot be read at all (answered with HTTP 400)."""


class ServiceError(ValueError):
    """A request the service refuses (answered with status ``ERROR`` and this message)."""


@dataclass(frozen=True)
class MashupRequest:
    """One ``/api/v0/invoke`` request.

    Parameters
    ----------
    service : str
        The service's name.
    params : dict
        Its parameters.
    page, pagesize : int
        Which page, of how many rows.
    """

    service: str
    params: Mapping[str, object]
    page: int
    pagesize: int


def parse_request(text: str | None) -> MashupRequest:
    """Read the ``request`` form field.

    Raises
    ------
    RequestError
        If there is none, it is not a JSON object, or ``service``, ``params``,
        ``page`` or ``pagesize`` has the wrong type.
    """
    if not text:
        raise RequestError("no request: send the form field 'request' (URL-encoded JSON)")
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise RequestError(f"request is not JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("service"), str):
        raise RequestError("request must be a JSON object with a 'service'")
    params = body.get("params", {})
    if not isinstance(params, dict):
        raise RequestError("request 'params' must be an object")
    page, pagesize = body.get("page", 1), body.get("pagesize", DEFAULT_PAGESIZE)
    for name, value in (("page", page), ("pagesize", pagesize)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RequestError(f"request '{name}' must be a whole number >= 1, got {value!r}")
    return MashupRequest(body["service"], params, page, pagesize)


def invoke(dataset: MastDataset, request: MashupRequest) -> Answer:
    """Answer a request (status ``COMPLETE``).

    Raises
    ------
    ServiceError
        If the service is unknown or refuses its parameters.
    """
    service = _SERVICES.get(request.service)
    if service is None:
        raise ServiceError(f"Unknown service: {request.service}")
    try:
        return service(dataset, request)
    except FilterError as exc:
        raise ServiceError(str(exc)) from None


def error_answer(message: str) -> Answer:
    """An answer with status ``ERROR``."""
    return {"status": "ERROR", "msg": message, "data": [], "fields": []}


def _paged(columns: list[dict[str, str]], rows: list[Answer], request: MashupRequest) -> Answer:
    size, page = request.pagesize, request.page
    chunk = rows[(page - 1) * size : page * size]
    return {
        "status": "COMPLETE",
        "msg": "",
        "paging": {
            "page": page,
            "pageSize": size,
            "pagesFiltered": math.ceil(len(rows) / size),
            "rows": len(chunk),
            "rowsFiltered": len(rows),
            "rowsTotal": len(rows),
        },
        "fields": columns,
        "data": chunk,
    }


def _cone(dataset: MastDataset, request: MashupRequest) -> Answer:
    params = request.params
    circle = tuple(_number(params, name) for name in ("ra", "dec", "radius"))
    found = _observations(dataset, circle, "*", None)
    return _paged(*found, request)


def _filtered(dataset: MastDataset, request: MashupRequest) -> Answer:
    params = request.params
    columns = params.get("columns", "*")
    if not isinstance(columns, str):
        raise ServiceError("'columns' must be a string")
    circle = None
    if request.service.endswith(".Position"):
        position = params.get("position")
        parts = position.split(",") if isinstance(position, str) else []
        if len(parts) != 3:
            raise ServiceError("'position' must be \"ra, dec, radius\" in degrees")
        circle = tuple(_number({"position": p.strip()}, "position") for p in parts)
    header, rows = _observations(dataset, circle, columns, params.get("filters"))
    if columns.replace(" ", "").upper() == "COUNT_BIG(*)":
        header, rows = [{"name": "Column1", "type": "string"}], [{"Column1": len(rows)}]
    return _paged(header, rows, request)


def _observations(
    dataset: MastDataset,
    circle: tuple[float, ...] | None,
    columns: str,
    filters: object,
) -> tuple[list[dict[str, str]], list[Answer]]:
    """The observation rows a search selects, with its ``fields``."""
    known = {c.name: c for c in (*OBSERVATION_COLUMNS, DISTANCE)}
    accepts = compile_filters(filters, known)
    found: list[tuple[float, Answer]] = []
    for observation in dataset.observations:
        values = row(OBSERVATION_COLUMNS, observation)
        distance = 0.0
        if circle is not None:
            distance = _separation(observation, circle[0], circle[1])
            if distance > circle[2] + observation.fov:
                continue
            values = {**values, "distance": distance * 3600}
        if accepts(values):
            found.append((distance, values))
    found.sort(key=lambda pair: pair[0])  # stable: nearest first, else dataset order
    shown: tuple[Column[MastObservation], ...] = OBSERVATION_COLUMNS
    if circle is not None:
        shown = (*shown, DISTANCE)
    if columns.strip() not in ("*", "") and "COUNT_BIG" not in columns.upper():
        names = [n.strip() for n in columns.split(",")]
        missing = [n for n in names if n not in known]
        if missing:
            raise ServiceError(f"unknown column(s): {', '.join(missing)}")
        shown = tuple(known[n] for n in names)
    rows = [{**{c.name: v[c.name] for c in shown}, "_selected_": None} for _, v in found]
    return fields(shown), rows


def _products(dataset: MastDataset, request: MashupRequest) -> Answer:
    wanted = request.params.get("obsid")
    if isinstance(wanted, int) and not isinstance(wanted, bool):
        wanted = str(wanted)
    if not isinstance(wanted, str) or not wanted.strip():
        raise ServiceError("'obsid' must be product group ids joined by commas")
    rows: list[Answer] = []
    seen: set[str] = set()
    for obsid in (part.strip() for part in wanted.split(",")):
        if obsid in seen or not obsid.isdigit():
            continue
        seen.add(obsid)
        try:
            products = dataset.products_of(int(obsid))
        except KeyError:
            continue
        rows.extend(row(PRODUCT_COLUMNS, product) for product in products)
    return _paged(fields(PRODUCT_COLUMNS), rows, request)


def _name_lookup(dataset: MastDataset, request: MashupRequest) -> Answer:
    text = request.params.get("input")
    if not isinstance(text, str) or not text.strip():
        raise ServiceError("'input' must be the name to resolve")
    return name_lookup_answer(dataset, text)


def _number(params: Mapping[str, object], name: str) -> float:
    value = params.get(name)
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError
        number = float(value)
    except ValueError:
        raise ServiceError(f"'{name}' must be a number of degrees, got {value!r}") from None
    if not math.isfinite(number):
        raise ServiceError(f"'{name}' must be finite, got {value!r}")
    return number


def _separation(observation: MastObservation, ra: float, dec: float) -> float:
    """Angle in degrees between the observation's center and ``(ra, dec)`` (haversine)."""
    ra1, dec1, ra2, dec2 = map(math.radians, (observation.s_ra, observation.s_dec, ra, dec))
    h = (
        math.sin((dec2 - dec1) / 2) ** 2
        + math.cos(dec1) * math.cos(dec2) * math.sin((ra2 - ra1) / 2) ** 2
    )
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(h))))


_SERVICES: dict[str, Callable[[MastDataset, MashupRequest], Answer]] = {
    "Mast.Caom.Cone": _cone,
    "Mast.Caom.Filtered": _filtered,
    "Mast.Caom.Filtered.Position": _filtered,
    "Mast.Caom.Products": _products,
    "Mast.Name.Lookup": _name_lookup,
}
SERVICES = tuple(_SERVICES)
"""The services the simulated MAST answers."""
