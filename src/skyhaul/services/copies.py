"""Making the copies a file is wanted in (``skyhaul get URL -d elsewhere``), from its
verified local copy.

Rules:
- A WANTED copy is made once its file is DOWNLOADED, from the file's own copy on disk,
  never from the network: read, hashed and written at once, then judged against the size
  and sha256 the file was verified with. Only a copy that matches is promoted and
  recorded PRESENT (see :mod:`skyhaul.core.copies`).
- A file's own copy found missing or changed while it is copied goes to FAILED through
  the lifecycle (``verify_failed``): the next download fetches it again from the
  network, and its copies are made after that. A download run copies before and after
  it downloads, so that happens within one ``get``.
- A copy that cannot be written (a disk error, a refused destination) stays WANTED with
  its error, and is a failure of the run.
- Blocking: callers on an event loop run it in a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from skyhaul.core.copies import Condition, CopyTask, Damage, damage_detail, judge_copy
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.model import Failure, Selection
from skyhaul.core.redact import redact_url
from skyhaul.errors import InterruptedRun, PathEscapeError, SkyhaulError
from skyhaul.ports.catalog import StoredCopies
from skyhaul.ports.copies import CopyDisk
from skyhaul.services.clock import utc_now

__all__ = ["CopyReport", "make_copies"]

log = logging.getLogger("skyhaul.copies")


@dataclass(slots=True)
class CopyReport:
    """What making copies did."""

    made: int = 0
    damaged: int = 0
    """Files whose own copy was missing or changed: FAILED now, to be fetched again."""
    failures: list[Failure] = field(default_factory=list)
    """Copies that could not be written (they stay WANTED)."""


def _never() -> bool:
    return False


def make_copies(
    catalog: StoredCopies,
    disk: CopyDisk,
    *,
    selection: Selection | None = None,
    job_id: int | None = None,
    now: Callable[[], datetime] = utc_now,
    stop: Callable[[], bool] = _never,
) -> CopyReport:
    """Make the WANTED copies of the selected (or the job's) DOWNLOADED files.

    Raises
    ------
    InterruptedRun
        ``stop`` said so while a copy was being made (its part file is deleted).
    """
    report = CopyReport()
    for task in catalog.copies_to_make(selection=selection, job_id=job_id):
        if stop():
            break
        _make(catalog, disk, task, report, now, stop)
    if report.made:
        noun = "copy" if report.made == 1 else "copies"
        log.info("%d %s made from local verified copies", report.made, noun)
    return report


def _make(
    catalog: StoredCopies,
    disk: CopyDisk,
    task: CopyTask,
    report: CopyReport,
    now: Callable[[], datetime],
    stop: Callable[[], bool],
) -> None:
    source = task.source
    try:
        pending = disk.start_copy(task, stop=stop)
        found = pending.found
        condition = judge_copy(source.size, source.sha256, found.size, found.sha256)
        if condition is not Condition.OK:
            pending.discard()
            detail = damage_detail(condition, source.size, found)
            log.warning("%s: %s; fetching it again before copying it", source.path, detail)
            catalog.verify_failed([Damage(source, condition, detail)], now=now())
            report.damaged += 1
            return
        pending.promote()
    except InterruptedRun:
        raise  # the caller stops
    except PathEscapeError as exc:
        _failed(catalog, task, report, ErrorClass.CLIENT, exc, now)
        return
    except SkyhaulError as exc:  # a disk error, a full disk: this copy waits
        _failed(catalog, task, report, ErrorClass.DISK, exc, now)
        return
    assert found.size is not None and found.sha256 is not None
    if catalog.copy_made(task.copy_id, size=found.size, sha256=found.sha256, now=now()):
        report.made += 1


def _failed(
    catalog: StoredCopies,
    task: CopyTask,
    report: CopyReport,
    error_class: ErrorClass,
    error: SkyhaulError,
    now: Callable[[], datetime],
) -> None:
    where = Path(task.dest_root, task.path)
    message = f"copy to {where}: {error}"
    log.warning("%s", message)
    catalog.copy_failed(task.copy_id, message=str(error), now=now())
    report.failures.append(
        Failure(
            url=redact_url(task.url),
            error_class=error_class.value,
            message=message,
            file_id=task.source.file_id,
        )
    )
