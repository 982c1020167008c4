"""Copies of a file in further destinations, and what a present copy's check found.

Rules:
- A file has one destination of its own (``files.dest_root``/``path``) and any number
  of copies, each in another destination: ``skyhaul get URL -d elsewhere`` for a URL
  the catalog already knows wants one there. Every destination, own or copy, is unique
  by its real path across the whole catalog.
- A copy's state changes only through ``COPY_TRANSITIONS``; anything else raises::

      WANTED --made (copied from the file's verified copy, hashed)--> PRESENT
      PRESENT --verify_failed (missing, or changed on disk)--> WANTED
      PRESENT --source_changed (the file was downloaded again with other bytes)--> WANTED

- A WANTED copy is made once its file is DOWNLOADED (from the local copy, never the
  network); a failed attempt leaves it WANTED with its error.
- ``judge_copy`` decides what a check of a present copy found, from the sizes and
  digests alone: the disk is read by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from skyhaul.errors import IllegalTransitionError


class CopyState(StrEnum):
    """Where a copy stands."""

    WANTED = "WANTED"
    PRESENT = "PRESENT"


class CopyEvent(StrEnum):
    """What can happen to a copy."""

    MADE = "made"
    VERIFY_FAILED = "verify_failed"
    SOURCE_CHANGED = "source_changed"


COPY_TRANSITIONS: dict[tuple[CopyState, CopyEvent], CopyState] = {
    (CopyState.WANTED, CopyEvent.MADE): CopyState.PRESENT,
    (CopyState.PRESENT, CopyEvent.VERIFY_FAILED): CopyState.WANTED,
    (CopyState.PRESENT, CopyEvent.SOURCE_CHANGED): CopyState.WANTED,
}


def next_copy_state(state: CopyState, event: CopyEvent) -> CopyState:
    """Return the state ``event`` moves a copy in ``state`` to.

    Raises
    ------
    IllegalTransitionError
        When the table has no such transition.
    """
    try:
        return COPY_TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransitionError(
            f"illegal copy transition: {event.value} from {state.value}",
            state=state.value,
            event=event.value,
        ) from None


def copy_sources(event: CopyEvent) -> frozenset[CopyState]:
    """Return every state from which ``event`` is legal (to build CAS updates)."""
    return frozenset(state for (state, ev) in COPY_TRANSITIONS if ev is event)


class Condition(StrEnum):
    """What a check of a copy that should be on disk found."""

    OK = "ok"
    MISSING = "missing"
    CHANGED = "changed"


def judge_copy(
    expected_size: int | None,
    expected_sha256: str | None,
    found_size: int | None,
    found_sha256: str | None = None,
) -> Condition:
    """Judge a present copy by what is on disk.

    Parameters
    ----------
    expected_size, expected_sha256
        What the catalog recorded when the copy was verified (None: not recorded).
    found_size : int or None
        The size on disk; None when there is no such plain file.
    found_sha256 : str or None
        The sha256 of the bytes on disk, when they were read (a thorough check); None
        for the cheap check, which trusts a copy of the right size.

    Returns
    -------
    Condition
        MISSING without a file, CHANGED when the size or digest differs, else OK.
    """
    if found_size is None:
        return Condition.MISSING
    if expected_size is not None and found_size != expected_size:
        return Condition.CHANGED
    if found_sha256 is None or expected_sha256 is None:
        return Condition.OK
    return Condition.OK if found_sha256.lower() == expected_sha256.lower() else Condition.CHANGED


@dataclass(frozen=True, slots=True)
class CopyRecord:
    """One row of the catalog's copies table."""

    id: int
    file_id: int
    dest_root: str
    path: str
    state: CopyState
    size: int | None = None
    sha256: str | None = None
    """The sha256 of the bytes copied (the file's, when it was made)."""
    copied_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class StoredCopy:
    """A destination that should hold a verified copy of a file: the file's own (a
    DOWNLOADED file; ``copy_id`` None) or one of its PRESENT copies."""

    file_id: int
    dest_root: str
    path: str
    size: int | None
    sha256: str | None
    copy_id: int | None = None


@dataclass(frozen=True, slots=True)
class CopyTask:
    """A WANTED copy to make, and the file's own verified copy to make it from."""

    copy_id: int
    dest_root: str
    path: str
    source: StoredCopy
    url: str
    """The file's URL (redact before showing it)."""


@dataclass(frozen=True, slots=True)
class Found:
    """What is on disk where a copy should be."""

    size: int | None
    """None when there is no plain file there."""
    sha256: str | None = None
    """The digest of its bytes, when they were read (a thorough check, or a copy made)."""


def damage_detail(condition: Condition, expected_size: int | None, found: Found) -> str:
    """Say in one line what a check found (for ``last_error`` and reports)."""
    if condition is Condition.MISSING:
        return "missing on disk"
    if expected_size is not None and found.size != expected_size:
        return f"changed on disk: {found.size} bytes, expected {expected_size}"
    return "changed on disk: its sha256 is not the one verified"


@dataclass(frozen=True, slots=True)
class Damage:
    """A stored copy that a check found missing or changed."""

    copy: StoredCopy
    condition: Condition
    detail: str
    """One line saying what was found, for ``last_error`` and the report."""
