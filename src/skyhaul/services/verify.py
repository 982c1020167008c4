"""Checking the copies that should be on disk: ``skyhaul verify``, and the cheap check
``get`` and ``download`` make before they say there is nothing to do.

Rules:
- What should be on disk: every selected DOWNLOADED file's own copy and every PRESENT
  copy of a selected file. They are read from the catalog a page at a time (by id), so a
  check of a million files holds one page.
- The cheap check (``thorough=False``) asks only that each is there with its size: one
  ``stat`` each. ``verify`` is thorough: it reads and hashes every byte, a block at a
  time, a few files at once in worker threads (hashlib releases the GIL while it hashes),
  never on an event loop.
- The verdict is the core's (``judge_copy``). Damage is recorded through the lifecycle
  page by page (``verify_failed``): a file's own copy goes DOWNLOADED -> FAILED, due at
  once, so the next ``download`` or ``get`` fetches it again; a copy goes back to WANTED
  and is remade from the file. An interrupted check keeps what it recorded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from skyhaul.core.copies import Condition, Damage, Found, StoredCopy, damage_detail, judge_copy
from skyhaul.core.model import Selection
from skyhaul.ports.catalog import StoredCopies
from skyhaul.ports.copies import CopyDisk
from skyhaul.services.clock import utc_now

__all__ = ["PAGE", "VerifyReport", "check_stored"]

log = logging.getLogger("skyhaul.verify")

#: Stored copies read from the catalog (and checked) at a time.
PAGE = 256
#: Files hashed at once by a thorough check.
HASHING_THREADS = 4


@dataclass(slots=True)
class VerifyReport:
    """What a check found."""

    checked: int = 0
    ok: int = 0
    missing: int = 0
    changed: int = 0
    damaged: list[Damage] = field(default_factory=list)

    def count(self, condition: Condition) -> None:
        """Count one stored copy checked."""
        self.checked += 1
        if condition is Condition.OK:
            self.ok += 1
        elif condition is Condition.MISSING:
            self.missing += 1
        else:
            self.changed += 1

    def as_json(self) -> dict[str, object]:
        """JSON-ready form (paths as stored, relative to their roots)."""
        return {
            "checked": self.checked,
            "ok": self.ok,
            "missing": self.missing,
            "changed": self.changed,
            "damaged": [
                {
                    "file_id": d.copy.file_id,
                    "copy_id": d.copy.copy_id,
                    "dest_root": d.copy.dest_root,
                    "path": d.copy.path,
                    "condition": d.condition.value,
                    "detail": d.detail,
                }
                for d in self.damaged
            ],
        }


def _never() -> bool:
    return False


def check_stored(
    catalog: StoredCopies,
    disk: CopyDisk,
    *,
    selection: Selection | None = None,
    job_id: int | None = None,
    thorough: bool,
    now: Callable[[], datetime] = utc_now,
    stop: Callable[[], bool] = _never,
    threads: int = HASHING_THREADS,
) -> VerifyReport:
    """Check the copies of the selected files that should be on disk; record damage.

    Parameters
    ----------
    catalog : StoredCopies
        Where the copies are listed and damage recorded.
    disk : CopyDisk
        Where they are read back.
    selection, job_id
        Which files (``job_id``: the files linked to that job).
    thorough : bool
        Re-hash every byte (``verify``); else only sizes (``get``, ``download``).
    now : callable
        The time damage is recorded at (and the refetch is due).
    stop : callable
        Asked between blocks; True stops the check (``InterruptedRun``).
    threads : int
        Files hashed at once by a thorough check.

    Returns
    -------
    VerifyReport
        The counts, and each damaged copy.
    """
    report = VerifyReport()
    stopping = threading.Event()

    def stopped() -> bool:
        return stopping.is_set() or stop()

    def measure(stored: StoredCopy) -> Found:
        return disk.measure(stored, thorough=thorough, stop=stopped)

    pool = ThreadPoolExecutor(threads, thread_name_prefix="skyhaul-verify") if thorough else None
    try:
        for page in _pages(catalog, selection, job_id):
            found = list(pool.map(measure, page) if pool is not None else map(measure, page))
            damage: list[Damage] = []
            for stored, seen in zip(page, found, strict=True):
                condition = judge_copy(stored.size, stored.sha256, seen.size, seen.sha256)
                report.count(condition)
                if condition is not Condition.OK:
                    detail = damage_detail(condition, stored.size, seen)
                    damage.append(Damage(stored, condition, detail))
            if damage:
                catalog.verify_failed(damage, now=now())
                report.damaged.extend(damage)
    except BaseException:
        stopping.set()  # the threads still hashing end within one block
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    if report.damaged:
        log.warning(
            "%d of %d copies missing or changed on disk; they are fetched (or copied) again",
            len(report.damaged),
            report.checked,
        )
    return report


def _pages(
    catalog: StoredCopies, selection: Selection | None, job_id: int | None
) -> Iterator[list[StoredCopy]]:
    after = 0
    while page := catalog.stored_files(selection, job_id=job_id, after=after, limit=PAGE):
        yield page
        after = page[-1].file_id
    after = 0
    while page := catalog.stored_copies(selection, job_id=job_id, after=after, limit=PAGE):
        yield page
        after = page[-1].copy_id or 0
