"""The products of MAST observations named by ``obs_id``, and where each is in the cloud.

Rules:
- Observations are found by ``obs_id`` (``Mast.Caom.Filtered``, ``OBS_ID_BATCH`` ids per
  query; MAST matches them in any letter case). An ``obs_id`` MAST does not know is a
  ``UsageError`` naming every unknown one (exit 2): nothing further is asked, so nothing
  is registered.
- Their products come from one batched products query; a product listed twice (under two
  observations) is one product, kept at its first listing. ``product_type`` keeps the
  products of that type (any letter case).
- Cloud paths are looked up only when asked (the import's ``auto`` and ``s3`` sources, the
  ``products`` listing): one request per ``PATH_LOOKUP_BATCH`` URIs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from skyhaul.adapters.mast import Filter, MastClient, Observation, Product, cloud_url
from skyhaul.errors import UsageError
from skyhaul.services.mast_search import of_type

__all__ = [
    "OBS_ID_BATCH",
    "ProductEntry",
    "find_observations",
    "listed_products",
    "products_of",
]

#: obs_ids per observations query.
OBS_ID_BATCH = 200
_SHOWN = 5  # unknown obs_ids named in a message


@dataclass(frozen=True, slots=True)
class ProductEntry:
    """A product with the observation it belongs to and its cloud key.

    Parameters
    ----------
    product : Product
        As MAST listed it.
    observation : Observation or None
        The observation it was listed for (None for rows given without one).
    cloud_key : str or None
        Its key in MAST's public bucket; None when it is not there or was not looked up.
    """

    product: Product
    observation: Observation | None = None
    cloud_key: str | None = None

    @property
    def mission(self) -> str | None:
        """The product's ``obs_collection``, else its observation's."""
        observation = self.observation
        return self.product.mission or (observation.mission if observation else None)

    @property
    def obs_id(self) -> str | None:
        """The product's ``obs_id``, else its observation's."""
        observation = self.observation
        return self.product.obs_id or (observation.obs_id if observation else None)

    @property
    def filename(self) -> str:
        """``productFilename``, else the last part of the URI."""
        return self.product.filename or self.product.data_uri.rsplit("/", 1)[-1]

    def as_json(self, download_url: str) -> dict[str, object]:
        """The product as plain values, with its MAST URL and its cloud URL (or None)."""
        p = self.product
        return {
            "obs_id": self.obs_id,
            "mission": self.mission,
            "filename": self.filename,
            "product_type": p.product_type,
            "description": p.description,
            "size": p.size,
            "data_uri": p.data_uri,
            "in_cloud": self.cloud_key is not None,
            "s3_url": None if self.cloud_key is None else cloud_url(self.cloud_key),
            "url": download_url,
        }


async def find_observations(client: MastClient, obs_ids: Sequence[str]) -> list[Observation]:
    """The observations of ``obs_ids`` (every one MAST lists under each id).

    Raises
    ------
    UsageError
        Some ``obs_id`` is unknown to MAST (the message names them).
    """
    wanted = list(dict.fromkeys(o.strip() for o in obs_ids if o.strip()))
    if not wanted:
        raise UsageError("no obs_id given")
    found: list[Observation] = []
    for start in range(0, len(wanted), OBS_ID_BATCH):
        batch = tuple(wanted[start : start + OBS_ID_BATCH])
        found += await client.filtered([Filter("obs_id", batch)])
    known = {o.obs_id.lower() for o in found}  # MAST matches ids in any letter case
    unknown = [o for o in wanted if o.lower() not in known]
    if unknown:
        shown = ", ".join(unknown[:_SHOWN]) + (" ..." if len(unknown) > _SHOWN else "")
        noun = "obs_id" if len(unknown) == 1 else f"{len(unknown)} obs_ids"
        raise UsageError(f"MAST has no observation with {noun}: {shown}")
    order = {o.lower(): i for i, o in enumerate(wanted)}
    return sorted(found, key=lambda o: order.get(o.obs_id.lower(), len(order)))


async def products_of(
    client: MastClient,
    observations: Sequence[Observation],
    *,
    product_type: str | None = None,
    cloud: bool = False,
) -> list[ProductEntry]:
    """The products of ``observations``, with their cloud keys when ``cloud``."""
    by_obsid = {o.obsid: o for o in observations}
    listed = of_type(await client.products(by_obsid), product_type)
    unique: dict[str, Product] = {}
    for product in listed:
        unique.setdefault(product.data_uri, product)
    keys = await client.cloud_paths(unique) if cloud else {}
    return [
        ProductEntry(p, by_obsid.get(p.group or "") or by_obsid.get(p.obsid or ""), keys.get(uri))
        for uri, p in unique.items()
    ]


async def listed_products(
    client: MastClient, obs_id: str, *, product_type: str | None = None
) -> list[tuple[ProductEntry, str]]:
    """The products of observation ``obs_id`` with their cloud keys, each with its MAST
    download URL (what ``skyhaul mast products`` lists).

    Raises
    ------
    UsageError
        MAST has no observation ``obs_id``.
    """
    found = await find_observations(client, [obs_id])
    entries = await products_of(client, found, product_type=product_type, cloud=True)
    return [(e, client.download_url(e.product.data_uri)) for e in entries]
