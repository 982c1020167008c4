"""Importing MAST observations: their products registered as one ``import`` job, then downloaded.

Rules:
- Planning asks MAST first and registers nothing until it is done: an unknown ``obs_id``
  (or any MAST failure) leaves the catalog untouched.
- One file per product (a product listed twice is one file), at
  ``<mission>/<obs_id>/<productFilename>`` under the destination (astroquery's layout
  below its ``mastDownload``), with the product's ``obs_collection`` and ``obs_id``
  (a JWST member exposure's own), its size from MAST when MAST gives one (0 is taken as
  unknown), its instrument and observation times from its observation, and the archive's
  rows as its origin.
- Sources (``--source``): ``auto`` fetches a product in the cloud from
  ``s3://stpubdata/<key>`` with MAST's download URL as its mirror, and others from MAST;
  ``s3`` fetches cloud products only and *skips* the others (as astroquery's
  ``cloud_only``); ``http`` fetches everything from MAST and looks nothing up.
- A product whose row cannot make a file is *refused*, alone, with its reason (a file
  name that is not one safe name, a destination another product of the import takes, a
  value the catalog cannot hold): the others go on. Refused products fail the command
  (exit 1); skipped ones do not.
- The job is a ``get`` of named files under the kind ``import`` (``services.runs``), with
  FITS checks on (``TransferOptions.fits_metadata``): progress, cancel and ``jobs
  resume`` work as for any job. Its parameters record the MAST query, not the files.
- ``queue_import`` queues the same job for Celery workers and runs nothing: its recorded
  options carry what a worker needs (FITS checks on), never a secret; a worker reads its
  S3 endpoint and credentials from its own AWS environment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from skyhaul.adapters.catalog import Catalog, RegisterResult
from skyhaul.adapters.mast import MastClient, cloud_url
from skyhaul.core.jobs import JobKind
from skyhaul.core.model import FileSpec, TransferOptions
from skyhaul.core.redact import redact_url
from skyhaul.core.specs import validate_spec
from skyhaul.errors import InvalidSpecError
from skyhaul.services.acquire import AcquireResult
from skyhaul.services.mast_products import ProductEntry, find_observations, products_of
from skyhaul.services.queued import queue_get
from skyhaul.services.runs import DownloadRun, prepare_get

__all__ = [
    "ImportPlan",
    "ImportResult",
    "SetAside",
    "SourceChoice",
    "plan_files",
    "plan_import",
    "prepare_import",
    "query_params",
    "queue_import",
]

#: The ``source`` of an imported file in the catalog.
MAST_SOURCE = "mast"


class SourceChoice(StrEnum):
    """Where imported products are fetched from (``--source``)."""

    AUTO = "auto"
    S3 = "s3"
    HTTP = "http"


@dataclass(frozen=True, slots=True)
class SetAside:
    """A product the import does not download, and why."""

    obs_id: str | None
    filename: str
    data_uri: str
    reason: str

    def as_json(self) -> dict[str, object]:
        """Plain values."""
        return {
            "obs_id": self.obs_id,
            "filename": self.filename,
            "data_uri": self.data_uri,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """The files of an import, and the products it sets aside.

    Parameters
    ----------
    specs : tuple of FileSpec
        One per product downloaded.
    entries : tuple of ProductEntry
        The product of each spec, in the same order.
    skipped : tuple of SetAside
        Left out by choice (not in the cloud with ``--source s3``).
    refused : tuple of SetAside
        Whose rows cannot make a file.
    """

    specs: tuple[FileSpec, ...] = ()
    entries: tuple[ProductEntry, ...] = ()
    skipped: tuple[SetAside, ...] = ()
    refused: tuple[SetAside, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: its run's result and the products it set aside."""

    run: AcquireResult
    plan: ImportPlan = field(default_factory=ImportPlan)

    @property
    def job_id(self) -> int | None:
        """The import's job."""
        return self.run.job_id

    @property
    def not_done(self) -> int:
        """Products not downloaded that should have been: failed, unfinished, refused."""
        return self.run.summary.not_done + len(self.plan.refused)

    def as_json(self) -> dict[str, object]:
        """The run's summary with the products set aside."""
        return {
            **self.run.as_json(),
            "products": len(self.plan.specs),
            "skipped": [s.as_json() for s in self.plan.skipped],
            "refused": [s.as_json() for s in self.plan.refused],
        }


async def plan_import(
    client: MastClient,
    obs_ids: Sequence[str],
    *,
    product_type: str | None = None,
    source: SourceChoice = SourceChoice.AUTO,
) -> ImportPlan:
    """Ask MAST for the products of ``obs_ids`` and plan their files.

    Raises
    ------
    UsageError
        An unknown ``obs_id`` (nothing is planned).
    SourceError
        MAST failed.
    """
    observations = await find_observations(client, obs_ids)
    entries = await products_of(
        client,
        observations,
        product_type=product_type,
        cloud=source is not SourceChoice.HTTP,
    )
    return plan_files(entries, source, client.download_url)


def plan_files(
    entries: Sequence[ProductEntry],
    source: SourceChoice,
    download_url: Callable[[str], str],
    *,
    prefix: str = "",
    flat: bool = False,
) -> ImportPlan:
    """Plan one file per product (see the module rules); no I/O.

    Parameters
    ----------
    entries : sequence of ProductEntry
        The products, cloud keys looked up unless ``source`` is ``http``.
    source : SourceChoice
        Where to fetch from.
    download_url : callable
        MAST's URL of a data URI.
    prefix : str
        A directory above ``<mission>/<obs_id>`` (astroquery's ``mastDownload``).
    flat : bool
        Every file directly in the destination (astroquery's ``flat=True``).
    """
    specs: list[FileSpec] = []
    kept: list[ProductEntry] = []
    skipped: list[SetAside] = []
    refused: list[SetAside] = []
    taken: dict[str, str] = {}  # path -> data URI
    directories: dict[str, str] = {}  # directory -> a path below it
    for entry in entries:
        aside = SetAside(entry.obs_id, entry.filename, entry.product.data_uri, "")
        key = entry.cloud_key if source is not SourceChoice.HTTP else None
        if source is SourceChoice.S3 and key is None:
            skipped.append(replace(aside, reason="not in the cloud (--source s3)"))
            continue
        try:
            spec = _spec(
                entry,
                key,
                download_url,
                prefix=prefix,
                flat=flat,
                s3_only=source is SourceChoice.S3,
            )
            validate_spec(spec)
        except InvalidSpecError as exc:
            refused.append(replace(aside, reason=exc.message))
            continue
        other = _taken_by(spec.path, taken, directories)
        if other is not None:
            refused.append(replace(aside, reason=f"{spec.path!r} is taken by {other}"))
            continue
        taken[spec.path] = entry.product.data_uri
        directories.update(dict.fromkeys(_parents(spec.path), spec.path))
        specs.append(spec)
        kept.append(entry)
    return ImportPlan(tuple(specs), tuple(kept), tuple(skipped), tuple(refused))


def query_params(
    url: str, obs_ids: Sequence[str], product_type: str | None, source: SourceChoice
) -> dict[str, object]:
    """What an import job records of its MAST query (its ``params["mast"]``); a job
    stores no secret, so a password in the URL is redacted."""
    return {
        "url": redact_url(url),
        "obs_ids": list(obs_ids),
        "product_type": product_type,
        "source": source.value,
    }


def prepare_import(
    catalog: Catalog,
    plan: ImportPlan,
    dest_root: str,
    options: TransferOptions,
    *,
    processes: int | None = 1,
    params: Mapping[str, object] | None = None,
) -> tuple[DownloadRun, RegisterResult]:
    """Queue the ``import`` job, register its files linked to it, and prepare its run.

    ``params`` is what the job records of the query (the MAST URL, the obs_ids, the
    product type, the source); the counts of products set aside are added.
    """
    return prepare_get(
        catalog,
        plan.specs,
        dest_root,
        replace(options, fits_metadata=True),
        processes=processes,
        kind=JobKind.IMPORT,
        params=_recorded(plan, params),
    )


def queue_import(
    catalog: Catalog,
    plan: ImportPlan,
    dest_root: str,
    options: TransferOptions,
    *,
    params: Mapping[str, object] | None = None,
) -> tuple[int, RegisterResult]:
    """Queue the ``import`` job and register its files linked to it, for workers to
    download; run nothing. ``params`` as for :func:`prepare_import` (with the executor).

    Returns
    -------
    tuple of (int, RegisterResult)
        The job id and what registering found.
    """
    return queue_get(
        catalog,
        plan.specs,
        dest_root,
        replace(options, fits_metadata=True),
        kind=JobKind.IMPORT,
        params=_recorded(plan, params),
    )


def _recorded(plan: ImportPlan, params: Mapping[str, object] | None) -> dict[str, object]:
    return {**(params or {}), "skipped": len(plan.skipped), "refused": len(plan.refused)}


def _spec(
    entry: ProductEntry,
    key: str | None,
    download_url: Callable[[str], str],
    *,
    prefix: str,
    flat: bool,
    s3_only: bool,
) -> FileSpec:
    product, observation = entry.product, entry.observation
    name = _single_name("file name", entry.filename)
    parts = [] if flat else [p for p in (prefix, entry.mission, entry.obs_id) if p]
    path = "/".join([*(_single_name("directory", p) for p in parts), name])
    http = download_url(product.data_uri)
    if key is None:
        urls: tuple[str, ...] = (http,)
    elif s3_only:
        urls = (cloud_url(key),)
    else:
        urls = (cloud_url(key), http)
    start = observation.start if observation else None
    end = observation.end if observation else None
    if start is not None and end is not None and end < start:
        end = None
    origin = {
        "observation": dict(observation.record) if observation else None,
        "product": dict(product.record),
    }
    return FileSpec(
        url=urls[0],
        path=path,
        size=product.size or None,
        source=MAST_SOURCE,
        mirrors=urls[1:],
        origin=json.dumps(origin, default=str),
        instrument=observation.instrument if observation else None,
        obs_start=start,
        obs_end=end,
    )


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _taken_by(path: str, taken: Mapping[str, str], directories: Mapping[str, str]) -> str | None:
    """What already takes ``path``: the same path, a file where it needs a directory, or
    files below it (a flat import beside a layered one); None when it is free."""
    if path in taken:
        return taken[path]
    if path in directories:
        return taken[directories[path]]
    for parent in _parents(path):
        if parent in taken:
            return taken[parent]
    return None


def _single_name(what: str, name: str) -> str:
    """``name`` when it is one safe path component."""
    if (
        not name
        or name in (".", "..")
        or name != name.strip()
        or any(c in name for c in "/\\")
        or any(ord(c) < 32 or ord(c) == 127 for c in name)
    ):
        raise InvalidSpecError(f"{what} {name!r} is not a single safe name")
    return name
