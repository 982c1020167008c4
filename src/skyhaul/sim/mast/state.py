"""What the simulated MAST knows and changes while it runs; shared by its routes.

Rules:
- :class:`MastState` lives on the aiohttp app under :data:`MAST_STATE`, beside the
  simulator's :data:`skyhaul.sim.appstate.SIM_STATE` (whose fault knobs and counters
  the MAST routes use too). It is touched only from the server's event loop; its
  counters lock, so other threads may read them.
- :meth:`MastState.status_for` decides an invoke request's fate, in this order: an
  ``error_next`` left (counted down), a service in ``error_services``, then
  ``executing_polls`` (counted per request text; the count is forgotten once the
  request is answered, and when the knobs change).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Literal

from aiohttp import web

from skyhaul.sim.mast.dataset import MastDataset, build_dataset
from skyhaul.sim.mast.files import ProductCache, ProductFiles
from skyhaul.sim.mast.knobs import MastKnobs
from skyhaul.sim.mast.spec import MastSpec
from skyhaul.sim.mast.stats import MastStats

Status = Literal["COMPLETE", "EXECUTING", "ERROR"]


class MastState:
    """The simulated MAST of one server.

    Parameters
    ----------
    dataset : MastDataset
        Observations and products.
    files : ProductFiles
        The products on disk (made on first use).
    knobs : MastKnobs, optional
        Knobs in force at start.
    """

    def __init__(self, dataset: MastDataset, files: ProductFiles, knobs: MastKnobs) -> None:
        self.dataset = dataset
        self.files = files
        self.stats = MastStats()
        self._knobs = knobs
        self._polls: Counter[str] = Counter()

    @classmethod
    def create(cls, spec: MastSpec, root: Path, knobs: MastKnobs | None = None) -> MastState:
        """Lay out the dataset of ``spec``, its products to be made under ``root``."""
        dataset = build_dataset(spec)
        return cls(dataset, ProductFiles(ProductCache(root, dataset)), knobs or MastKnobs())

    @property
    def knobs(self) -> MastKnobs:
        """The knobs in force (``error_next`` counts down as errors are answered)."""
        return self._knobs

    def configure(self, knobs: MastKnobs) -> None:
        """Put new knobs in force and forget the polls counted so far."""
        self._knobs = knobs
        self._polls.clear()

    def status_for(self, request_text: str, service: str) -> Status:
        """Decide whether an invoke request is answered, kept waiting or failed.

        Parameters
        ----------
        request_text : str
            The request exactly as sent (a client polls by sending it again).
        service : str
            Its service.

        Returns
        -------
        {"COMPLETE", "EXECUTING", "ERROR"}
            ``COMPLETE``: answer it now.
        """
        knobs = self._knobs
        if knobs.error_next > 0:
            self._knobs = dataclasses.replace(knobs, error_next=knobs.error_next - 1)
            return "ERROR"
        if knobs.fails(service):
            return "ERROR"
        if self._polls[request_text] < knobs.executing_polls:
            self._polls[request_text] += 1
            return "EXECUTING"
        self._polls.pop(request_text, None)
        return "COMPLETE"


MAST_STATE = web.AppKey("skyhaul_mast_state", MastState)
