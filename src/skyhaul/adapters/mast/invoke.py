"""MAST's query protocol: ``/api/v0/invoke``, its EXECUTING polls, its pages, its ERRORs.

Rules:
- A query is ``POST {mast}/api/v0/invoke`` with one form field, ``request``: JSON of
  ``{"service", "params", "format": "json", "pagesize", "page", "cacheBreaker"}``.
- ``status: "EXECUTING"``: MAST is still working; the same request is posted again after
  ``poll_delay`` seconds, ``max_polls`` times and ``max_seconds`` (over the whole query)
  at most, by the injected ``sleep`` and ``clock``. Past either bound the query fails.
- ``status: "ERROR"``: the query fails, in one line naming the service and MAST's ``msg``.
  Any other status (``COMPLETE``; none at all for ``Mast.Name.Lookup``) is an answer.
- Paging: after an answer, ``paging.pagesFiltered`` says how many pages there are; the
  next page is asked for until all are read, ``max_pages`` at most. MAST must echo the
  page asked for (``paging.page``): another page number fails the query rather than loop.
- A table's rows are ``data``, a list of JSON objects; the ``_selected_`` column is
  dropped. Anything else is an answer skyhaul cannot read: a ``SourceError``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeGuard

from skyhaul.adapters.mast.wire import MastWire, Sleep
from skyhaul.errors import SourceError

__all__ = ["INVOKE_PATH", "InvokeLimits", "Invoker"]

INVOKE_PATH = "/api/v0/invoke"
_DROPPED = "_selected_"


@dataclass(frozen=True, slots=True)
class InvokeLimits:
    """Bounds of one query.

    Parameters
    ----------
    page_size : int
        Rows asked for per page.
    max_pages : int
        Pages read at most; a query with more fails (narrow it).
    max_polls : int
        Times an EXECUTING answer is asked again at most.
    max_seconds : float
        Seconds one query may spend polling EXECUTING answers, over all its pages.
    poll_delay : float
        Seconds between two polls.
    """

    page_size: int = 50_000
    max_pages: int = 200
    max_polls: int = 600
    max_seconds: float = 1800.0
    poll_delay: float = 1.0


class Invoker:
    """Runs MAST services through ``/api/v0/invoke``.

    Parameters
    ----------
    wire : MastWire
        The HTTP seam.
    base_url : str
        MAST's root (``https://mast.stsci.edu``), without a trailing slash.
    limits : InvokeLimits
        Page size and bounds.
    sleep, clock
        How to wait between polls and how to measure the time spent (injected in tests).
    """

    def __init__(
        self,
        wire: MastWire,
        base_url: str,
        limits: InvokeLimits | None = None,
        *,
        sleep: Sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wire = wire
        self._url = base_url + INVOKE_PATH
        self.limits = limits or InvokeLimits()
        self._sleep = sleep
        self._clock = clock

    async def answer(self, service: str, params: Mapping[str, object]) -> Mapping[str, object]:
        """Run ``service`` once (its EXECUTING answers polled) and return its first page."""
        return await self._page(service, params, 1, _Budget(self.limits, self._clock()))

    async def rows(self, service: str, params: Mapping[str, object]) -> list[Mapping[str, object]]:
        """Run ``service`` and return the rows of every page."""
        budget = _Budget(self.limits, self._clock())
        rows: list[Mapping[str, object]] = []
        page = 1
        while True:
            document = await self._page(service, params, page, budget)
            rows.extend(_rows(document, service))
            pages = _pages(document, service, page)
            if page >= pages:
                return rows
            if page >= self.limits.max_pages:
                raise SourceError(
                    f"MAST {service}: more than {self.limits.max_pages} pages of "
                    f"{self.limits.page_size} rows; narrow the query"
                )
            page += 1

    async def _page(
        self, service: str, params: Mapping[str, object], page: int, budget: _Budget
    ) -> Mapping[str, object]:
        request = {
            "service": service,
            "params": params,
            "format": "json",
            "pagesize": self.limits.page_size,
            "page": page,
            "cacheBreaker": str(uuid.uuid4()),
        }
        form = [("request", json.dumps(request))]
        while True:
            document = await self._wire.post_json(self._url, form, service)
            status = document.get("status")
            if status == "ERROR":
                raise SourceError(f"MAST {service}: {_message(document)}")
            if status != "EXECUTING":
                return document
            budget.poll(self._clock(), service)
            await self._sleep(self.limits.poll_delay)


class _Budget:
    """What is left of one query's polls and time."""

    def __init__(self, limits: InvokeLimits, started: float) -> None:
        self._limits = limits
        self._started = started
        self._polls = 0

    def poll(self, now: float, service: str) -> None:
        """Count one more poll; raise when the query may not poll again."""
        self._polls += 1
        limits = self._limits
        if self._polls > limits.max_polls:
            raise SourceError(
                f"MAST {service}: still executing after {limits.max_polls} polls; try again later"
            )
        if now - self._started + limits.poll_delay > limits.max_seconds:
            raise SourceError(
                f"MAST {service}: still executing after {now - self._started:.0f} s "
                f"(limit {limits.max_seconds:g} s); try again later"
            )


def _message(document: Mapping[str, object]) -> str:
    msg = document.get("msg")
    text = " ".join(msg.split()) if isinstance(msg, str) else ""
    return text or "MAST answered ERROR without a message"


def _rows(document: Mapping[str, object], service: str) -> list[Mapping[str, object]]:
    data = document.get("data")
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise SourceError(f"MAST {service}: 'data' is not a list of objects")
    return [{k: v for k, v in row.items() if k != _DROPPED} for row in data]


def _pages(document: Mapping[str, object], service: str, asked: int) -> int:
    """How many pages the answer says there are (1 without paging)."""
    paging = document.get("paging")
    if paging is None:
        return 1
    if not isinstance(paging, dict):
        raise SourceError(f"MAST {service}: 'paging' is not an object")
    page, pages = paging.get("page", asked), paging.get("pagesFiltered", 1)
    if not _count(page) or not _count(pages):
        raise SourceError(f"MAST {service}: 'paging' holds no page numbers: {paging}")
    if page != asked:
        raise SourceError(f"MAST {service}: asked for page {asked}, got page {page}")
    return pages


def _count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
