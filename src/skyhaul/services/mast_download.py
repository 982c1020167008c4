"""astroquery's ``download_products`` on skyhaul's engine: a product table in, a manifest out.

Rules:
- The rows are astroquery's product rows (mappings of MAST's product columns). Only
  ``dataURI`` is needed; ``productFilename`` (else the URI's last part), ``obs_collection``
  and ``obs_id`` place the file as astroquery does:
  ``<download_dir>/mastDownload/<obs_collection>/<obs_id>/<productFilename>``, or directly
  in ``download_dir`` with ``flat``. A row without a ``dataURI`` is an ERROR row of the
  manifest; a URI given twice is one file (astroquery drops duplicates too).
- Files are planned as the import plans them (:func:`skyhaul.services.mast_import.plan_files`):
  sources, refusals, origins and FITS checks alike.
- The manifest has one row per product, in the table's order: ``Local Path``, ``Status``
  (``COMPLETE``, ``ERROR``, ``SKIPPED``), ``Message`` (None when complete, else why) and
  ``URL`` (the URL the file is fetched from first; astroquery fills it on errors only).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from skyhaul.adapters.mast import MastClient, Product
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileRecord
from skyhaul.services.mast_import import ImportPlan, SourceChoice, plan_files
from skyhaul.services.mast_products import ProductEntry

__all__ = ["MANIFEST_COLUMNS", "ManifestRow", "manifest_rows", "plan_table"]

#: astroquery's manifest columns.
MANIFEST_COLUMNS = ("Local Path", "Status", "Message", "URL")
#: astroquery's prefix of its layout.
LAYOUT_PREFIX = "mastDownload"
_NO_URI = "the row has no dataURI"


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One row of the manifest (astroquery's columns)."""

    local_path: str
    status: str
    message: str | None
    url: str | None

    def as_tuple(self) -> tuple[str, str, str | None, str | None]:
        """The row in ``MANIFEST_COLUMNS`` order."""
        return (self.local_path, self.status, self.message, self.url)


async def plan_table(
    client: MastClient,
    rows: Sequence[Mapping[str, object]],
    *,
    source: SourceChoice = SourceChoice.AUTO,
    flat: bool = False,
) -> ImportPlan:
    """Plan the files of a product table (cloud keys looked up unless ``source`` is http)."""
    products = [p for p in map(Product.from_row, rows) if p is not None]
    unique: dict[str, Product] = {}
    for product in products:
        unique.setdefault(product.data_uri, product)
    keys = await client.cloud_paths(unique) if source is not SourceChoice.HTTP else {}
    entries = [ProductEntry(p, None, keys.get(uri)) for uri, p in unique.items()]
    prefix = "" if flat else LAYOUT_PREFIX
    return plan_files(entries, source, client.download_url, prefix=prefix, flat=flat)


def manifest_rows(
    rows: Sequence[Mapping[str, object]],
    plan: ImportPlan,
    records: Mapping[str, FileRecord],
    download_dir: str,
) -> list[ManifestRow]:
    """The manifest of a finished run, one row per product in the table's order.

    Parameters
    ----------
    rows : sequence of mappings
        The table as given.
    plan : ImportPlan
        Its plan.
    records : mapping of str to FileRecord
        The catalog's record of each planned file, by URL.
    download_dir : str
        The directory as the caller named it (paths are shown under it, as astroquery does).
    """
    planned = {e.product.data_uri: s for e, s in zip(plan.entries, plan.specs, strict=True)}
    skipped = {s.data_uri: s.reason for s in plan.skipped}
    refused = {s.data_uri: s.reason for s in plan.refused}
    manifest: list[ManifestRow] = []
    seen: set[str] = set()
    for row in rows:
        product = Product.from_row(row)
        if product is None:
            manifest.append(ManifestRow("", "ERROR", _NO_URI, None))
            continue
        uri = product.data_uri
        if uri in seen:
            continue
        seen.add(uri)
        spec = planned.get(uri)
        if spec is None:
            status = "SKIPPED" if uri in skipped else "ERROR"
            manifest.append(ManifestRow("", status, skipped.get(uri) or refused.get(uri), None))
            continue
        # Joined as astroquery joins it ("./mastDownload/..."), the caller's spelling kept.
        local = os.path.join(download_dir, spec.path)  # noqa: PTH118
        record = records.get(spec.url)
        if record is not None and record.state is FileState.DOWNLOADED:
            manifest.append(ManifestRow(local, "COMPLETE", None, spec.url))
        else:
            why = record.last_error if record is not None else None
            state = record.state.value.lower() if record is not None else "not registered"
            manifest.append(
                ManifestRow(local, "ERROR", why or f"not downloaded ({state})", spec.url)
            )
    return manifest
