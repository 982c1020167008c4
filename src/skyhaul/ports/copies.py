"""The disk where copies are kept, as the verify and copy services see it.

Rules:
- ``measure`` says what is where a stored copy should be: its size (cheap: a ``stat``),
  or its size and sha256 (thorough: every byte read). It decides nothing: the verdict
  is ``core.copies.judge_copy``'s.
- ``start_copy`` writes a new copy from a file's own copy into a part file at the copy's
  destination, hashing what it reads; the copy is promoted only when the caller, having
  judged what was read, calls ``promote``, else it is discarded.
- Blocking calls: services run them off any event loop. ``stop`` is asked between blocks.
- Errors are skyhaul's: ``DiskError``/``DiskFullError``, ``PathEscapeError`` for a
  destination refused, ``InterruptedRun`` when stopped.
- Today the disk is local (``adapters.local_copies.LocalCopies``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from skyhaul.core.copies import CopyTask, Found, StoredCopy

__all__ = ["CopyDisk", "PendingCopy"]


class PendingCopy(Protocol):
    """A copy written, waiting for the verdict on what was read."""

    @property
    def found(self) -> Found:
        """What was read from the file's own copy (size and sha256; size None: nothing)."""

    def promote(self) -> None:
        """Make it appear under its final name, durably."""

    def discard(self) -> None:
        """Delete what was written."""


class CopyDisk(Protocol):
    """Where stored copies are read back and new copies made."""

    def measure(self, stored: StoredCopy, *, thorough: bool, stop: Callable[[], bool]) -> Found:
        """Return what is on disk where ``stored`` should be."""

    def start_copy(self, task: CopyTask, *, stop: Callable[[], bool]) -> PendingCopy:
        """Copy the task's source into a part file at its destination, hashing it."""
