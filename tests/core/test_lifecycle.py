"""The file lifecycle table, driven exhaustively: every state x every event."""

from __future__ import annotations

import itertools
import pickle

import pytest

from skyhaul.core.lifecycle import (
    TERMINAL_STATES,
    TRANSITIONS,
    FileEvent,
    FileState,
    next_state,
    sources_of,
)
from skyhaul.errors import IllegalTransitionError

S, E = FileState, FileEvent

# The lifecycle of DESIGN.md, written out independently of the table it checks.
EXPECTED = {
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

ALL_PAIRS = list(itertools.product(FileState, FileEvent))
LEGAL = [pair for pair in ALL_PAIRS if pair in EXPECTED]
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in EXPECTED]


def test_table_is_the_designed_lifecycle() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("state", "event"), LEGAL, ids=lambda x: str(x))
def test_legal_transitions_return_the_table_state(state: FileState, event: FileEvent) -> None:
    assert next_state(state, event) is EXPECTED[(state, event)]


@pytest.mark.parametrize(("state", "event"), ILLEGAL, ids=lambda x: str(x))
def test_every_other_pair_raises(state: FileState, event: FileEvent) -> None:
    with pytest.raises(IllegalTransitionError) as excinfo:
        next_state(state, event)
    error = excinfo.value
    assert (error.state, error.event) == (state.value, event.value)
    assert str(error) == f"illegal transition: {event.value} from {state.value}"
    assert "\n" not in str(error)


def test_every_pair_is_covered_exactly_once() -> None:
    assert len(LEGAL) + len(ILLEGAL) == len(FileState) * len(FileEvent)
    assert len(LEGAL) == len(EXPECTED)


@pytest.mark.parametrize("event", list(FileEvent))
def test_sources_of_lists_exactly_the_legal_states(event: FileEvent) -> None:
    expected = {state for (state, ev) in EXPECTED if ev is event}
    assert sources_of(event) == expected
    for state in FileState:
        legal = state in sources_of(event)
        try:
            next_state(state, event)
        except IllegalTransitionError:
            assert not legal
        else:
            assert legal


def test_every_event_is_legal_somewhere_and_every_state_reachable() -> None:
    assert all(sources_of(event) for event in FileEvent)
    reachable = {S.DISCOVERED}
    frontier = [S.DISCOVERED]
    while frontier:
        state = frontier.pop()
        for event in FileEvent:
            if state in sources_of(event):
                target = next_state(state, event)
                if target not in reachable:
                    reachable.add(target)
                    frontier.append(target)
    assert reachable == set(FileState)


def test_terminal_states_are_left_only_by_operator_or_remote_change() -> None:
    engine_events = {
        E.CLAIM,
        E.PROMOTE,
        E.FAIL_RETRYABLE,
        E.FAIL_PERMANENT,
        E.LEASE_EXPIRED,
        E.RELEASE,
    }
    for state in TERMINAL_STATES:
        for event in engine_events:
            assert (state, event) not in TRANSITIONS


def test_illegal_transition_error_pickles() -> None:
    with pytest.raises(IllegalTransitionError) as excinfo:
        next_state(S.DOWNLOADED, E.CLAIM)
    clone = pickle.loads(pickle.dumps(excinfo.value))
    assert (clone.message, clone.state, clone.event) == (
        excinfo.value.message,
        "DOWNLOADED",
        "claim",
    )
