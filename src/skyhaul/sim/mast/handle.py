"""The Python handle on a running simulator's MAST side (``RunningSim.mast``).

Rules:
- Read-only views (dataset, observations, products, counters, knobs) are safe from any
  thread; :meth:`RunningMast.set_knobs` and :meth:`RunningMast.files` run on the
  server's event loop (``SimThread`` offers them as ``set_mast_knobs`` and
  ``mast_files`` for other threads).
- URLs are absolute, under the server's origin: ``server_url`` is what astroquery's
  ``[mast] server`` setting takes (no trailing slash).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from skyhaul.sim.mast.dataset import MastDataset, MastObservation, MastProduct
from skyhaul.sim.mast.files import ProductFile
from skyhaul.sim.mast.knobs import MastKnobs
from skyhaul.sim.mast.routes import DOWNLOAD, INVOKE, PATH_LOOKUP, SANTA
from skyhaul.sim.mast.state import MastState
from skyhaul.sim.mast.stats import MastStats


class RunningMast:
    """The MAST side of a running simulator.

    Parameters
    ----------
    state : MastState
        The MAST state of the server's app.
    origin : str
        The server's ``http://HOST:PORT``.
    """

    def __init__(self, state: MastState, origin: str) -> None:
        self._state = state
        self.server_url = origin.rstrip("/")

    @property
    def dataset(self) -> MastDataset:
        """Every observation and product."""
        return self._state.dataset

    @property
    def observations(self) -> tuple[MastObservation, ...]:
        """The observations, in dataset order."""
        return self._state.dataset.observations

    @property
    def products(self) -> tuple[MastProduct, ...]:
        """Every product, in dataset order (each observation's together)."""
        return self._state.dataset.products

    def observation(self, key: str | int) -> MastObservation:
        """The observation with this ``obs_id`` or ``obsid`` (KeyError if none)."""
        return self._state.dataset.observation(key)

    def products_of(self, key: str | int) -> tuple[MastProduct, ...]:
        """The products of the observation with this ``obs_id`` or ``obsid``."""
        return self._state.dataset.products_of(key)

    def product(self, uri: str) -> MastProduct:
        """The product whose ``dataURI`` is ``uri`` (KeyError if none)."""
        product = self._state.dataset.product(uri)
        if product is None:
            raise KeyError(uri)
        return product

    @property
    def stats(self) -> MastStats:
        """Live MAST counters (bytes served per product are in ``RunningSim.stats``)."""
        return self._state.stats

    @property
    def knobs(self) -> MastKnobs:
        """The MAST knobs in force."""
        return self._state.knobs

    def set_knobs(self, knobs: MastKnobs | None = None, /, **changes: object) -> MastKnobs:
        """Put new MAST knobs in force (call on the server's event loop).

        Parameters
        ----------
        knobs : MastKnobs, optional
            The whole new set; without it, ``changes`` apply to the current one.
        **changes : object
            Knobs to change, read as :meth:`MastKnobs.from_mapping` reads them.

        Returns
        -------
        MastKnobs
            The knobs now in force.
        """
        new = MastKnobs.from_mapping(changes, base=knobs or self._state.knobs)
        self._state.configure(new)
        return new

    async def files(self, products: Iterable[MastProduct] | None = None) -> list[ProductFile]:
        """The products on disk with their SHA-256s, made first where needed.

        Parameters
        ----------
        products : iterable of MastProduct, optional
            Which (default: all of the dataset's, the bench observation's too if any).

        Returns
        -------
        list of ProductFile
            In the order given.
        """
        wanted = self.products if products is None else products
        return await self._state.files.get_many(wanted)

    @property
    def invoke_url(self) -> str:
        """``{server}/api/v0/invoke``."""
        return self.server_url + INVOKE

    @property
    def resolver_url(self) -> str:
        """The SANTA resolver's URL (astroquery's fixed ``mastresolver.stsci.edu`` one)."""
        return self.server_url + SANTA

    @property
    def path_lookup_url(self) -> str:
        """The path lookup's URL (astroquery's fixed ``mast.stsci.edu`` one)."""
        return self.server_url + PATH_LOOKUP

    def download_url(self, uri: str) -> str:
        """``Download/file`` URL of a product, its URI quoted as astroquery quotes it."""
        return f"{self.server_url}{DOWNLOAD}?uri={quote(uri, safe=':/')}"
