"""The file lifecycle: one transition table, and nothing else decides a state.

Rules:
- Every state change of a file is an ``(state, event) -> state`` lookup in ``TRANSITIONS``.
- A pair that is not in the table raises ``IllegalTransitionError``; there are no implicit
  transitions and no defaults.
- The catalog persists states and applies them with compare-and-set updates, but asks this
  table which state comes next.

::

    DISCOVERED --claim--> DOWNLOADING --promote--> DOWNLOADED
    DOWNLOADING --fail_retryable--> FAILED --claim (when due)--> DOWNLOADING
    DOWNLOADING --fail_permanent (or attempts exhausted)--> ABANDONED
    DOWNLOADING --lease_expired--> FAILED
    DOWNLOADING --release (cancelled, resumable)--> DISCOVERED
    DOWNLOADED --verify_failed--> FAILED
    DISCOVERED | FAILED | ABANDONED --ignore--> IGNORED --unignore--> DISCOVERED
    FAILED | ABANDONED --retry (operator)--> DISCOVERED
    DISCOVERED | DOWNLOADED | FAILED | ABANDONED --remote_changed--> DISCOVERED
"""

from __future__ import annotations

from enum import StrEnum

from skyhaul.errors import IllegalTransitionError


class FileState(StrEnum):
    """Where a file stands in its lifecycle."""

    DISCOVERED = "DISCOVERED"
    DOWNLOADING = "DOWNLOADING"
    DOWNLOADED = "DOWNLOADED"
    FAILED = "FAILED"
    ABANDONED = "ABANDONED"
    IGNORED = "IGNORED"


class FileEvent(StrEnum):
    """What can happen to a file."""

    CLAIM = "claim"
    PROMOTE = "promote"
    FAIL_RETRYABLE = "fail_retryable"
    FAIL_PERMANENT = "fail_permanent"
    LEASE_EXPIRED = "lease_expired"
    RELEASE = "release"
    VERIFY_FAILED = "verify_failed"
    IGNORE = "ignore"
    UNIGNORE = "unignore"
    RETRY = "retry"
    REMOTE_CHANGED = "remote_changed"


S = FileState
E = FileEvent

TRANSITIONS: dict[tuple[FileState, FileEvent], FileState] = {
    (S.DISCOVERED, E.CLAIM): S.DOWNLOADING,
    (S.FAILED, E.CLAIM): S.DOWNLOADING,
    (S.DOWNLOADING, E.PROMOTE): S.DOWNLOADED,
    (S.DOWNLOADING, E.FAIL_RETRYABLE): S.FAILED,
    (S.DOWNLOADING, E.FAIL_PERMANENT): S.ABANDONED,
    (S.DOWNLOADING, E.LEASE_EXPIRED): S.FAILED,
    (S.DOWNLOADING, E.RELEASE): S.DISCOVERED,
    (S.DOWNLOADED, E.VERIFY_FAILED): S.FAILED,
    (S.DISCOVERED, E.IGNORE): S.IGNORED,
    (S.FAILED, E.IGNORE): S.IGNORED,
    (S.ABANDONED, E.IGNORE): S.IGNORED,
    (S.IGNORED, E.UNIGNORE): S.DISCOVERED,
    (S.FAILED, E.RETRY): S.DISCOVERED,
    (S.ABANDONED, E.RETRY): S.DISCOVERED,
    (S.DISCOVERED, E.REMOTE_CHANGED): S.DISCOVERED,
    (S.DOWNLOADED, E.REMOTE_CHANGED): S.DISCOVERED,
    (S.FAILED, E.REMOTE_CHANGED): S.DISCOVERED,
    (S.ABANDONED, E.REMOTE_CHANGED): S.DISCOVERED,
}

del S, E


def next_state(state: FileState, event: FileEvent) -> FileState:
    """Return the state that ``event`` moves a file in ``state`` to.

    Raises
    ------
    IllegalTransitionError
        When the table has no such transition.
    """
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransitionError(
            f"illegal transition: {event.value} from {state.value}",
            state=state.value,
            event=event.value,
        ) from None


def sources_of(event: FileEvent) -> frozenset[FileState]:
    """Return every state from which ``event`` is legal (used to build CAS updates)."""
    return frozenset(state for (state, ev) in TRANSITIONS if ev is event)


#: States a file is never taken out of by the engine on its own.
TERMINAL_STATES = frozenset({FileState.DOWNLOADED, FileState.ABANDONED, FileState.IGNORED})
