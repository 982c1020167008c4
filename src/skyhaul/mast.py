"""A drop-in for astroquery's ``Observations.download_products``, on skyhaul's engine.

Rules:
- ``download_products(table, download_dir=...)`` takes the product table astroquery
  returns (``Observations.get_product_list``: an astropy ``Table`` or ``Row``) or any
  rows (mappings) with ``dataURI``; it places files as astroquery does
  (``download_dir/mastDownload/<obs_collection>/<obs_id>/<productFilename>``, or flat)
  and returns astroquery's manifest: an astropy ``Table`` with ``Local Path``,
  ``Status`` (``COMPLETE``, ``ERROR``, ``SKIPPED``), ``Message`` and ``URL``.
- What changes underneath: parallel downloads, retries of 503s and resets, ``.part``
  files resumed by verified ranges (never appended blindly, never left under the final
  name), FITS structure and CHECKSUM/DATASUM checks as well as the size, one path lookup
  per 40 products, no overall time limit.
- Calling it again resumes: verified files are kept (astroquery's ``cache=True``), partial
  ones continue. The catalog that makes this possible is a SQLite file,
  ``download_dir/skyhaul.db`` unless ``catalog`` names another (the CLI's default name:
  ``skyhaul ls`` run in ``download_dir`` shows the files).
- astroquery's filters work as there (``productType="SCIENCE"``, ``extension="fits"``,
  ``mrp_only``; AND between filters, OR within one); ``cloud_only=True`` is
  ``source="s3"``. ``curl_flag`` is not supported.
- astropy is imported when the function runs, never at ``import skyhaul``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from skyhaul.errors import UsageError

if TYPE_CHECKING:
    from skyhaul.client import CancelEvent
    from skyhaul.core.model import TransferOptions

__all__ = ["download_products"]

_MRP = "Minimum Recommended Products"


def download_products(
    products: Any,
    download_dir: str | os.PathLike[str] | None = None,
    *,
    flat: bool = False,
    cache: bool = True,
    mrp_only: bool = False,
    cloud_only: bool = False,
    source: str = "auto",
    catalog: str | None = None,
    mast_url: str | None = None,
    options: TransferOptions | None = None,
    cancel_event: CancelEvent | None = None,
    curl_flag: bool = False,
    verbose: bool = True,
    **filters: Any,
) -> Any:
    """Download MAST products with skyhaul; return astroquery's manifest table.

    Parameters
    ----------
    products : astropy.table.Table, astropy.table.Row, or iterable of mappings
        Product rows with at least ``dataURI`` (``Observations.get_product_list``).
    download_dir : str, path-like or None
        Where to put them (default the current directory).
    flat : bool
        All files directly in ``download_dir`` (no ``mastDownload/<mission>/<obs_id>``).
    cache : bool
        Accepted for astroquery's signature: verified files are always kept.
    mrp_only : bool
        Only "Minimum Recommended Products".
    cloud_only : bool
        Only products in the cloud (the same as ``source="s3"``); the others are SKIPPED.
    source : {"auto", "s3", "http"}
        ``auto``: S3 first for products in the cloud, MAST as mirror; ``http``: MAST only.
    catalog : str or None
        Catalog URL or SQLite path (default ``download_dir/skyhaul.db``).
    mast_url : str or None
        MAST's root (default ``$SKYHAUL_MAST_URL``, else ``https://mast.stsci.edu``).
    options : TransferOptions or None
        Concurrency, attempts, timeouts.
    cancel_event : object with ``is_set()`` or None
        Set to stop; what is done is kept and a new call resumes.
    curl_flag : bool
        Not supported (raises).
    verbose : bool
        Accepted for astroquery's signature (skyhaul logs through ``logging``).
    **filters
        Product columns and the values wanted (``productType="SCIENCE"``), or
        ``extension`` (``"fits"``, ``["fits", "jpg"]``).

    Returns
    -------
    astropy.table.Table
        ``Local Path``, ``Status``, ``Message``, ``URL``: one row per product.

    Examples
    --------
    >>> from astroquery.mast import Observations  # doctest: +SKIP
    >>> from skyhaul.mast import download_products  # doctest: +SKIP
    >>> table = Observations.get_product_list("87602009")  # doctest: +SKIP
    >>> manifest = download_products(table, "data", productType="SCIENCE")  # doctest: +SKIP
    """
    from astropy.table import Table

    from skyhaul.client import Client
    from skyhaul.services.mast_download import MANIFEST_COLUMNS

    if curl_flag:
        raise UsageError("curl_flag is not supported: skyhaul downloads the files itself")
    rows = _select(_rows_of(products), mrp_only=mrp_only, filters=filters)
    directory = os.fspath(download_dir) if download_dir is not None else "."
    where = catalog or os.path.join(directory, "skyhaul.db")  # noqa: PTH118 - text, as given
    os.makedirs(directory, exist_ok=True)  # noqa: PTH103 - the catalog's directory first
    with Client(catalog=where, options=options) as client:
        manifest = client.mast_download_products(
            rows,
            directory,
            source="s3" if cloud_only else source,
            flat=flat,
            cancel_event=cancel_event,
            mast_url=mast_url,
        )
    if not manifest:
        return Table(names=MANIFEST_COLUMNS, dtype=[str, str, object, object])
    return Table(rows=[row.as_tuple() for row in manifest], names=MANIFEST_COLUMNS)


def _rows_of(products: Any) -> list[dict[str, object]]:
    """Plain rows of a Table, a Row or mappings (masked values as None)."""
    from astropy.table import Row, Table

    if isinstance(products, Row):
        products = Table(products, masked=True)  # as astroquery does with one row
    if isinstance(products, Table):
        names = products.colnames
        return [{name: _plain(row[name]) for name in names} for row in products]
    if isinstance(products, str | Mapping) or not isinstance(products, Iterable):
        raise UsageError(
            "give the product table (Observations.get_product_list(...)) or rows with dataURI"
        )
    rows = []
    for row in products:
        if not isinstance(row, Mapping):
            raise UsageError(
                f"a product row must be a mapping with dataURI, got {type(row).__name__}"
            )
        rows.append({str(k): _plain(v) for k, v in row.items()})
    return rows


def _plain(value: object) -> object:
    """A cell as a plain Python value: masked is None, numpy scalars their Python value."""
    import numpy as np

    if value is np.ma.masked or isinstance(value, np.ma.core.MaskedConstant):
        return None
    item = getattr(value, "item", None)
    if isinstance(value, np.generic) and callable(item):
        plain = item()
        return plain.decode() if isinstance(plain, bytes) else plain
    return value


def _select(
    rows: Sequence[dict[str, object]], *, mrp_only: bool, filters: Mapping[str, Any]
) -> list[dict[str, object]]:
    """The rows astroquery's ``filter_products`` would keep."""
    wanted = dict(filters)
    if mrp_only:
        wanted["productGroupDescription"] = _MRP
    kept = []
    for row in rows:
        if all(_matches(row, column, values) for column, values in wanted.items()):
            kept.append(row)
    return kept


def _matches(row: Mapping[str, object], column: str, values: Any) -> bool:
    allowed = [values] if isinstance(values, str) or not isinstance(values, Iterable) else values
    texts = {str(v) for v in allowed}
    if column == "extension":
        name = str(row.get("productFilename") or row.get("dataURI") or "")
        return any(name.endswith("." + ext.lstrip(".")) for ext in texts)
    return str(row.get(column)) in texts
