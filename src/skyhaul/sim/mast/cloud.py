"""MAST's cloud copy on the simulator's S3 side: which products go up, and as what.

Rules:
- The products with a ``cloud_key`` (those ``path_lookup`` finds) are uploaded, made
  from the same cache as the HTTP side, so S3 holds the same bytes, except where HTTP
  corrupts a ``corrupt_http`` product on purpose (S3's copy is right).
- Uploading is :class:`skyhaul.sim.s3.RunningS3Sim`'s business (``upload_mast``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from skyhaul.sim.mast.dataset import build_dataset
from skyhaul.sim.mast.files import ProductCache, ProductFile
from skyhaul.sim.mast.spec import MastSpec


@dataclass(frozen=True)
class MastS3Object:
    """One MAST product in the simulated ``stpubdata`` bucket.

    Parameters
    ----------
    bucket : str
        The bucket.
    file : ProductFile
        The product and its bytes (``file.product.cloud_key`` is the key).
    etag : str
        The ETag moto gave it, quoted.
    """

    bucket: str
    file: ProductFile
    etag: str

    @property
    def key(self) -> str:
        """The object key."""
        return str(self.file.product.cloud_key)

    @property
    def url(self) -> str:
        """``s3://BUCKET/KEY``."""
        return f"s3://{self.bucket}/{self.key}"


def cloud_files(spec: MastSpec, root: Path) -> list[ProductFile]:
    """The products of ``spec`` that are in the cloud, made on disk under ``root`` (blocking).

    Returns
    -------
    list of ProductFile
        In dataset order.
    """
    dataset = build_dataset(spec)
    cloud = [p for p in dataset.products if p.cloud_key is not None]
    return ProductCache(root, dataset).materialise_many(cloud)
