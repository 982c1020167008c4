"""Jobs in the catalog: compare-and-set state changes, the progress heartbeat, reads.

Rules:
- The catalog persists job states but never decides them: each change is an
  ``UPDATE ... WHERE id = :id AND state IN (<sources>)`` whose sources and target come from
  :mod:`skyhaul.core.jobs`. A change that lost its race returns False or None; it never
  raises.
- Only the owner of a RUNNING job publishes its progress or finishes it. Publishing is one
  small ``UPDATE ... RETURNING cancel_requested``: it stores the progress, renews the
  lease, and tells the owner whether someone asked it to stop. A job is held while it is
  RUNNING under its owner, even past its lease, until someone recovers it (as for files).
- ``params``, ``progress`` and ``summary`` are compact JSON text.
- Cost of :func:`publish_progress` with 16 files in flight, a 2.7 kB document
  (``python -m benchmarks.bench_jobs``, median of 1,000 calls, 2 cores shared with other
  work, load about 3): 0.31 ms on a SQLite file and 0.75 ms on PostgreSQL over loopback,
  each a whole committed transaction. On PostgreSQL the commit does not wait for the WAL
  flush (see :func:`publish_progress`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, insert, literal, select, update
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog.jobs_schema import job_files, jobs
from skyhaul.adapters.catalog.records import chunks
from skyhaul.core.jobprogress import JobProgress
from skyhaul.core.jobs import (
    HELD_STATE,
    NEW_JOB_STATE,
    JobEvent,
    JobKind,
    JobRecord,
    JobState,
    finish_event,
    next_job_state,
    sources_of,
)

__all__ = [
    "cancel",
    "create",
    "file_ids",
    "finish",
    "get",
    "link_files",
    "list_jobs",
    "publish_progress",
    "recover_interrupted",
    "requeue",
    "start",
]

_FIELDS = tuple(f.name for f in dataclasses.fields(JobRecord))
#: The jobs columns a JobRecord is made of, in field order.
_COLUMNS = [jobs.c[name] for name in _FIELDS]
_HELD = HELD_STATE.value


def _dumps(document: object) -> str:
    return json.dumps(document, separators=(",", ":"))


def create(c: Connection, kind: JobKind, params: Mapping[str, Any], now: datetime) -> int:
    """Insert a new job (queued) and return its id."""
    statement = (
        insert(jobs)
        .values(
            kind=JobKind(kind).value,
            params=_dumps(dict(params)),
            state=NEW_JOB_STATE.value,
            created_at=now,
            updated_at=now,
            cancel_requested=False,
        )
        .returning(jobs.c.id)
    )
    return int(c.execute(statement).scalar_one())


def link_files(c: Connection, job_id: int, ids: Iterable[int]) -> int:
    """Link files to a job (links that exist are kept); return how many are new."""
    # The dialect's own insert (for ON CONFLICT), imported when needed, as in .totals.
    upsert: Any
    if c.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    added = 0
    for chunk in chunks(sorted(set(ids))):
        rows = [{"job_id": job_id, "file_id": file_id} for file_id in chunk]
        statement = upsert(job_files).values(rows).on_conflict_do_nothing()
        # RETURNING names only the rows inserted (psycopg gives no rowcount here).
        added += len(c.execute(statement.returning(job_files.c.file_id)).all())
    return added


def _transition(
    c: Connection,
    job_id: int,
    event: JobEvent,
    values: Mapping[str, Any],
    *,
    where: Sequence[ColumnElement[bool]] = (),
    sources: Collection[JobState] | None = None,
) -> JobState | None:
    """Apply ``event`` to job ``job_id`` if it is in a legal source state; return the new
    state (None: it was not, or ``where`` did not hold)."""
    targets = _targets(event, sources)
    for target, froms in targets.items():
        statement = (
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.state.in_(froms), *where)
            .values(state=target.value, **values)
            .returning(jobs.c.id)
        )
        if c.execute(statement).first() is not None:
            return target
    return None


def _targets(event: JobEvent, sources: Collection[JobState] | None) -> dict[JobState, list[str]]:
    """Group the legal source states of ``event`` by the state the table moves them to."""
    grouped: dict[JobState, list[str]] = {}
    for source in sorted(sources_of(event) if sources is None else sources):
        grouped.setdefault(next_job_state(source, event), []).append(source.value)
    return grouped


def start(c: Connection, job_id: int, owner: str, now: datetime, lease_seconds: float) -> bool:
    """Start a queued job for ``owner`` under a lease; False if it was not queued."""
    values = {
        "owner": owner,
        "started_at": now,
        "updated_at": now,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "cancel_requested": False,
        "finished_at": None,
        "progress": None,
        "progress_at": None,
        "summary": None,
        "error": None,
    }
    return _transition(c, job_id, JobEvent.START, values) is not None


def publish_progress(
    c: Connection,
    job_id: int,
    owner: str,
    progress: JobProgress,
    now: datetime,
    lease_seconds: float,
) -> bool | None:
    """Store progress and renew the lease; return the cancel flag (None: not held)."""
    if c.dialect.name == "postgresql":
        # Progress is superseded a second later: losing the last one to a server crash
        # costs nothing, so the commit need not wait for the WAL flush (most of its time).
        c.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
    statement = (
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state == _HELD, jobs.c.owner == owner)
        .values(
            progress=_dumps(progress.as_json()),
            progress_at=now,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
        )
        .returning(jobs.c.cancel_requested)
    )
    flag = c.execute(statement).scalar_one_or_none()
    return None if flag is None else bool(flag)


def finish(
    c: Connection,
    job_id: int,
    owner: str,
    state: JobState,
    now: datetime,
    summary: Mapping[str, Any] | None,
    error: str | None,
) -> bool:
    """End ``owner``'s running job in ``state``; False if it no longer held it."""
    values = {
        "finished_at": now,
        "updated_at": now,
        "lease_expires_at": None,
        "summary": None if summary is None else _dumps(dict(summary)),
        "error": error,
    }
    changed = _transition(
        c,
        job_id,
        finish_event(JobState(state)),
        values,
        where=[jobs.c.owner == owner],
        sources=[HELD_STATE],  # a requeued job is no longer its old owner's to finish
    )
    return changed is not None


def cancel(c: Connection, job_id: int, now: datetime) -> bool:
    """Ask a running job to stop, or cancel one that nobody runs yet; False if neither."""
    flagged = c.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state == _HELD)
        .values(cancel_requested=True, updated_at=now)
        .returning(jobs.c.id)
    ).first()
    if flagged is not None:
        return True  # its owner applies the cancel event when it stops
    values = {"cancel_requested": True, "finished_at": now, "updated_at": now}
    unheld = sources_of(JobEvent.CANCEL) - {HELD_STATE}
    return _transition(c, job_id, JobEvent.CANCEL, values, sources=unheld) is not None


def recover_interrupted(c: Connection, now: datetime) -> int:
    """Mark every running job whose lease expired before ``now`` interrupted; return how many."""
    values: dict[str, Any] = {
        "finished_at": now,
        "updated_at": now,
        "lease_expires_at": None,
        "error": literal("lease expired; held by ") + func.coalesce(jobs.c.owner, "?"),
    }
    recovered = 0
    for target, froms in _targets(JobEvent.LEASE_EXPIRED, None).items():
        statement = (
            update(jobs)
            .where(jobs.c.state.in_(froms), jobs.c.lease_expires_at < now)
            .values(state=target.value, **values)
        )
        recovered += c.execute(statement).rowcount
    return recovered


def requeue(c: Connection, job_id: int, now: datetime) -> bool:
    """Queue a failed, cancelled or interrupted job again; False if it was in none of those.

    Its last progress is kept (where the last run got to) until it starts again.
    """
    values = {
        "owner": None,
        "lease_expires_at": None,
        "cancel_requested": False,
        "finished_at": None,
        "summary": None,
        "error": None,
        "updated_at": now,
    }
    return _transition(c, job_id, JobEvent.RESUME, values) is not None


def get(c: Connection, job_id: int) -> JobRecord | None:
    """Return one job, or None."""
    row = c.execute(select(*_COLUMNS).where(jobs.c.id == job_id)).first()
    return None if row is None else _to_record(row)


def list_jobs(c: Connection, states: Collection[JobState] | None, limit: int) -> list[JobRecord]:
    """Return up to ``limit`` jobs (in ``states``), newest first."""
    query = select(*_COLUMNS).order_by(jobs.c.id.desc()).limit(limit)
    if states is not None:
        query = query.where(jobs.c.state.in_(sorted(JobState(s).value for s in states)))
    return [_to_record(row) for row in c.execute(query)]


def file_ids(c: Connection, job_id: int) -> list[int]:
    """Return the ids of the files linked to a job, in order."""
    query = select(job_files.c.file_id).where(job_files.c.job_id == job_id)
    return sorted(int(file_id) for file_id in c.scalars(query))


def _to_record(row: Any) -> JobRecord:
    values = dict(zip(_FIELDS, row, strict=True))
    progress = values["progress"]
    summary = values["summary"]
    values.update(
        kind=JobKind(values["kind"]),
        state=JobState(values["state"]),
        params=json.loads(values["params"]),
        cancel_requested=bool(values["cancel_requested"]),
        progress=None if progress is None else JobProgress.from_json(json.loads(progress)),
        summary=None if summary is None else json.loads(summary),
    )
    return JobRecord(**values)
