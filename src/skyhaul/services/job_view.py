"""What a viewer sees of a job: its record, its freshest progress and its latest files.

Rules:
- A job this process runs shows its progress as it is now (:class:`LiveJobs`); a job
  another process runs shows what that process last published to the catalog.
- ``live`` says which, so a page can tell "pushed several times a second" from "read from
  the catalog about once a second".
- Parameters are shown with every URL redacted (a job stores no secret, but a URL given
  on a command line may carry a signature).
- A job's recent files are its files that ended (downloaded, failed, abandoned) most
  recently first, with their error class and message; a job over a selection rather than
  named files lists none (its files are the catalog's, see the Files page).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.filedocs import file_document
from skyhaul.core.jobs import JobKind, JobRecord, JobState
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileRecord, Selection
from skyhaul.core.redact import redact_url, redact_urls_in
from skyhaul.services.jobs import recover_jobs
from skyhaul.services.live_jobs import LiveJobs

__all__ = ["RECENT_FILES", "job_document", "job_subject", "jobs_documents"]

#: Files shown as recently finished or failed on a job's page.
RECENT_FILES = 20

_RECENT_FIELDS = ("id", "path", "state", "size", "error_class", "last_error", "updated_at")
_ENDED = frozenset({FileState.DOWNLOADED, FileState.FAILED, FileState.ABANDONED})
_OF_NAMED_FILES = frozenset({JobKind.GET, JobKind.IMPORT})


def job_document(
    catalog: Catalog, live: LiveJobs, job_id: int, *, recent: int = RECENT_FILES
) -> dict[str, Any] | None:
    """Return job ``job_id`` as a viewer sees it now (None: no such job).

    Returns
    -------
    dict or None
        :meth:`JobRecord.as_json` with redacted ``params``, the live ``progress`` when it
        runs here, ``live`` (bool), ``file_states`` (count per state of a job over named
        files) and ``recent_files`` (id, path, state, size, error class, last error and
        update time of each, most recently ended first).
    """
    record = catalog.get_job(job_id)
    if record is None:
        return None
    document = _document(record, live)
    if record.kind in _OF_NAMED_FILES and recent > 0:
        states = catalog.job_file_states(job_id)
        document["file_states"] = {state.value: count for state, count in sorted(states.items())}
        ended = catalog.list_files(
            Selection(states=_ENDED), job_id=job_id, limit=recent, order="-updated_at"
        )
        document["recent_files"] = [_recent_row(f) for f in ended]
    else:
        document["file_states"] = None
        document["recent_files"] = []
    return document


def jobs_documents(
    catalog: Catalog,
    live: LiveJobs,
    *,
    states: frozenset[JobState] | None = None,
    limit: int = 100,
    recover: bool = True,
) -> list[dict[str, Any]]:
    """Return the latest ``limit`` jobs, newest first; with ``recover``, dead ones are
    first marked interrupted (a write: a live feed does it every few seconds, not at each
    read)."""
    if recover:
        recover_jobs(catalog)
    return [_document(r, live) for r in catalog.list_jobs(states=states, limit=limit)]


def job_subject(kind: JobKind, params: Mapping[str, object]) -> str:
    """Say in a few words what a job works on, from its parameters: the observations of
    an import, the source and days of a backfill, the source or selection of a download,
    the destination of a get (URLs redacted), the stages of a queued pipeline run."""
    mast = params.get("mast")
    if kind is JobKind.IMPORT and isinstance(mast, Mapping):
        obs_ids = [str(o) for o in mast.get("obs_ids") or ()]
        shown = ", ".join(obs_ids[:2]) + (f" +{len(obs_ids) - 2}" if len(obs_ids) > 2 else "")
        kept = mast.get("product_type")
        return f"MAST {shown}" + (f" ({kept})" if kept else "")
    if kind is JobKind.BACKFILL:
        return f"{params.get('source')} {params.get('first')}..{params.get('last')}"
    if kind is JobKind.WATCH_CYCLE:
        return f"{params.get('source')} cycle {params.get('cycle')}"
    stages = params.get("stages")
    if kind is JobKind.PIPELINE and isinstance(stages, list):
        return "pipeline " + ",".join(str(stage) for stage in stages)
    selection = params.get("selection")
    if isinstance(selection, Mapping):
        named = [
            f"{key} {value}"
            for key, value in selection.items()
            if value not in (None, "", [], {}) and isinstance(value, str | int)
        ]
        if named:
            return ", ".join(named[:3])
    root = params.get("dest_root")
    return f"into {redact_url(root) if isinstance(root, str) else '?'}"


def _recent_row(record: FileRecord) -> dict[str, object]:
    """A recently ended file as a job's page shows it: the few fields it needs (the
    document is pushed to every follower several times a second; the whole file is at
    ``/api/files/ID``)."""
    full = file_document(record)
    return {name: full[name] for name in _RECENT_FIELDS}


def _document(record: JobRecord, live: LiveJobs) -> dict[str, Any]:
    document = record.as_json()
    document["subject"] = job_subject(record.kind, record.params)
    document["params"] = redact_urls_in(document["params"])
    now = live.progress(record.id) if record.state is JobState.RUNNING else None
    document["live"] = now is not None
    if now is not None:
        document["progress"] = now.as_json()
    return document
