"""The copy lifecycle table and the verdict on a present copy (no disk here)."""

from __future__ import annotations

import pytest

from skyhaul.core.copies import (
    COPY_TRANSITIONS,
    Condition,
    CopyEvent,
    CopyState,
    copy_sources,
    judge_copy,
    next_copy_state,
)
from skyhaul.errors import IllegalTransitionError


def test_a_wanted_copy_is_made_and_a_damaged_one_is_wanted_again() -> None:
    made = next_copy_state(CopyState.WANTED, CopyEvent.MADE)
    assert made is CopyState.PRESENT
    assert next_copy_state(made, CopyEvent.VERIFY_FAILED) is CopyState.WANTED
    assert next_copy_state(made, CopyEvent.SOURCE_CHANGED) is CopyState.WANTED


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (state, event)
        for state in CopyState
        for event in CopyEvent
        if (state, event) not in COPY_TRANSITIONS
    ],
)
def test_anything_else_raises(state: CopyState, event: CopyEvent) -> None:
    with pytest.raises(IllegalTransitionError):
        next_copy_state(state, event)


def test_sources_of_an_event() -> None:
    assert copy_sources(CopyEvent.MADE) == {CopyState.WANTED}
    assert copy_sources(CopyEvent.VERIFY_FAILED) == {CopyState.PRESENT}


@pytest.mark.parametrize(
    ("found_size", "found_sha", "condition"),
    [
        (None, None, Condition.MISSING),
        (9, None, Condition.CHANGED),
        (10, None, Condition.OK),  # the cheap check trusts the size
        (10, "AB" * 32, Condition.OK),  # digests compare regardless of case
        (10, "cd" * 32, Condition.CHANGED),
    ],
)
def test_judging_a_present_copy(
    found_size: int | None, found_sha: str | None, condition: Condition
) -> None:
    assert judge_copy(10, "ab" * 32, found_size, found_sha) is condition
