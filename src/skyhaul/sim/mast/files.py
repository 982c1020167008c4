"""MAST products on disk, made when first asked for, so the server can ``sendfile`` them.

Rules:
- Layout: ``<root>/mast-seed<seed>-<key>/<obs_id>/<productFilename>``, where ``key``
  hashes :data:`CONTENT_FORMAT` and the seed (a product's bytes depend on nothing else:
  the bench profile shares the default products' files).
- A product is written to a unique temporary name and renamed into place, then its
  sidecar ``.<name>.json`` (URI, size, both SHA-256s) is written atomically. A later
  start (of any process) reuses a file whose sidecar matches and whose size is right,
  so nothing is made twice, and two simulators may fill one cache at once.
- Nothing is made at start-up: :class:`ProductFiles` makes each product on its first
  request (off the event loop, one at a time per product), or in bulk when a caller asks
  (S3 uploads, the Python handle, ``--mast-profile bench``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from skyhaul.sim.cache import write_text_atomically
from skyhaul.sim.mast.content import write_product
from skyhaul.sim.mast.dataset import MastDataset, MastProduct

CONTENT_FORMAT = 1
"""Bump when :mod:`skyhaul.sim.mast.content` or the catalog changes bytes or names."""


@dataclass(frozen=True)
class ProductFile:
    """One product, on disk.

    Parameters
    ----------
    product : MastProduct
        The product.
    sha256 : str
        SHA-256 of its bytes (S3's copy), hex.
    http_sha256 : str
        SHA-256 of the bytes HTTP ``Download/file`` serves (differs only where
        ``product.corrupt_http``), hex.
    disk_path : Path
        Where the bytes are.
    """

    product: MastProduct
    sha256: str
    http_sha256: str
    disk_path: Path

    @property
    def size(self) -> int:
        """Size in bytes."""
        return self.product.size

    @property
    def etag(self) -> str:
        """Strong ETag, quoted, derived from the content."""
        return f'"{self.sha256[:32]}"'

    @property
    def last_modified(self) -> datetime:
        """Publication time: a day after the observation's end."""
        mjd = self.product.observation.t_max
        return datetime(1858, 11, 17, tzinfo=UTC) + timedelta(days=round(mjd) + 1)

    def to_json(self) -> dict[str, object]:
        """What a test needs to know of the product, JSON-ready (``/_sim/mast/products``)."""
        product = self.product
        return {
            "obs_id": product.obs_id,
            "obsid": str(product.obsid),
            "obs_collection": product.observation.obs_collection,
            "dataURI": product.data_uri,
            "productFilename": product.filename,
            "size": product.size,
            "kind": product.kind,
            "cloud_key": product.cloud_key,
            "has_content_length": product.has_content_length,
            "corrupt_http": product.corrupt_http,
            "bad_datasum": product.bad_datasum,
            "sha256": self.sha256,
            "http_sha256": self.http_sha256,
        }


class ProductCache:
    """The on-disk copy of a dataset's products (made product by product).

    Parameters
    ----------
    root : Path
        Cache root (shared with the archive's files); created if missing.
    dataset : MastDataset
        The dataset.
    """

    def __init__(self, root: Path, dataset: MastDataset) -> None:
        seed = dataset.spec.seed
        key = hashlib.sha256(f"{CONTENT_FORMAT}|{seed}".encode()).hexdigest()[:10]
        self.dataset = dataset
        self.directory = Path(root) / f"mast-seed{seed}-{key}"

    def path_of(self, product: MastProduct) -> Path:
        """Where ``product``'s bytes are (or will be)."""
        return self.directory / product.obs_id / product.filename

    def materialise(self, product: MastProduct) -> ProductFile:
        """Return ``product`` on disk, writing it first unless a valid copy is there.

        Parameters
        ----------
        product : MastProduct
            The product.

        Returns
        -------
        ProductFile
            Its bytes on disk and their digests.
        """
        disk_path = self.path_of(product)
        sidecar = disk_path.with_name(f".{disk_path.name}.json")
        known = _read_sidecar(sidecar, product, disk_path)
        if known is not None:
            return known
        disk_path.parent.mkdir(parents=True, exist_ok=True)
        temp = disk_path.with_name(f".{disk_path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with temp.open("wb") as out:
                digests = write_product(out, product, self.dataset.spec.seed)
            temp.replace(disk_path)
        finally:
            temp.unlink(missing_ok=True)
        record = {"uri": product.data_uri, "size": product.size, "sha256": digests.sha256}
        record["http_sha256"] = digests.http_sha256
        write_text_atomically(sidecar, json.dumps(record))
        return ProductFile(product, digests.sha256, digests.http_sha256, disk_path)

    def materialise_many(
        self, products: Iterable[MastProduct], workers: int | None = None
    ) -> list[ProductFile]:
        """Materialise several products, a few at once (blocking).

        Parameters
        ----------
        products : iterable of MastProduct
            The products.
        workers : int, optional
            Threads writing at once (default: up to 4, one per CPU).

        Returns
        -------
        list of ProductFile
            In the order given.
        """
        threads = workers or min(4, os.cpu_count() or 1)
        with ThreadPoolExecutor(threads, thread_name_prefix="skyhaul-mast-files") as pool:
            return list(pool.map(self.materialise, products))


def _read_sidecar(sidecar: Path, product: MastProduct, disk_path: Path) -> ProductFile | None:
    try:
        record = json.loads(sidecar.read_text())
        if record["uri"] != product.data_uri or record["size"] != product.size:
            return None
        if disk_path.stat().st_size != product.size:
            return None
        return ProductFile(product, str(record["sha256"]), str(record["http_sha256"]), disk_path)
    except (OSError, ValueError, KeyError, TypeError):
        return None


class ProductFiles:
    """A running simulator's products: each made on first use, then remembered.

    Parameters
    ----------
    cache : ProductCache
        Where products are written.
    """

    def __init__(self, cache: ProductCache) -> None:
        self.cache = cache
        self._made: dict[int, ProductFile] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def get(self, product: MastProduct) -> ProductFile:
        """Return ``product`` on disk, making it first (off the event loop) if needed."""
        made = self._made.get(product.index)
        if made is not None:
            return made
        async with self._locks.setdefault(product.index, asyncio.Lock()):
            made = self._made.get(product.index)
            if made is None:
                made = await asyncio.to_thread(self.cache.materialise, product)
                self._made[product.index] = made
            return made

    async def get_many(self, products: Iterable[MastProduct]) -> list[ProductFile]:
        """Return several products on disk, making the missing ones a few at once."""
        wanted = list(products)
        missing = [p for p in wanted if p.index not in self._made]
        if missing:
            made = await asyncio.to_thread(self.cache.materialise_many, missing)
            for one in made:
                self._made.setdefault(one.product.index, one)
        return [self._made[p.index] for p in wanted]
