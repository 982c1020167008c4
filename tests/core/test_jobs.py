"""The job state table, driven exhaustively: every state x every event; the job record."""

from __future__ import annotations

import itertools
import json
import pickle
from datetime import UTC, datetime

import pytest

from skyhaul.core.jobprogress import InFlightFile, JobProgress
from skyhaul.core.jobs import (
    ACTIVE_STATES,
    NEW_JOB_STATE,
    TERMINAL_STATES,
    TRANSITIONS,
    JobEvent,
    JobKind,
    JobRecord,
    JobState,
    finish_event,
    next_job_state,
    sources_of,
)
from skyhaul.errors import IllegalTransitionError

S, E = JobState, JobEvent

# The job lifecycle of the issue, written out independently of the table it checks.
EXPECTED = {
    (S.QUEUED, E.START): S.RUNNING,
    (S.RUNNING, E.SUCCEED): S.SUCCEEDED,
    (S.RUNNING, E.FAIL): S.FAILED,
    (S.RUNNING, E.CANCEL): S.CANCELLED,
    (S.RUNNING, E.INTERRUPT): S.INTERRUPTED,
    (S.RUNNING, E.LEASE_EXPIRED): S.INTERRUPTED,
    (S.QUEUED, E.CANCEL): S.CANCELLED,  # nobody runs it yet: cancelled at once
    (S.INTERRUPTED, E.RESUME): S.QUEUED,
    (S.CANCELLED, E.RESUME): S.QUEUED,
    (S.FAILED, E.RESUME): S.QUEUED,
}

ALL_PAIRS = list(itertools.product(JobState, JobEvent))
LEGAL = [pair for pair in ALL_PAIRS if pair in EXPECTED]
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in EXPECTED]


def test_table_is_the_designed_lifecycle() -> None:
    assert TRANSITIONS == EXPECTED
    assert len(LEGAL) + len(ILLEGAL) == len(JobState) * len(JobEvent)


@pytest.mark.parametrize(("state", "event"), LEGAL, ids=str)
def test_legal_transitions_return_the_table_state(state: JobState, event: JobEvent) -> None:
    assert next_job_state(state, event) is EXPECTED[(state, event)]


@pytest.mark.parametrize(("state", "event"), ILLEGAL, ids=str)
def test_every_other_pair_raises(state: JobState, event: JobEvent) -> None:
    with pytest.raises(IllegalTransitionError) as excinfo:
        next_job_state(state, event)
    error = excinfo.value
    assert (error.state, error.event) == (state.value, event.value)
    assert str(error) == f"illegal job transition: {event.value} from {state.value}"


@pytest.mark.parametrize("event", list(JobEvent))
def test_sources_of_lists_exactly_the_legal_states(event: JobEvent) -> None:
    assert sources_of(event) == {state for (state, ev) in EXPECTED if ev is event}


def test_every_state_is_reachable_from_a_new_job() -> None:
    reachable = {NEW_JOB_STATE}
    frontier = [NEW_JOB_STATE]
    while frontier:
        state = frontier.pop()
        for event in JobEvent:
            if state in sources_of(event):
                target = next_job_state(state, event)
                if target not in reachable:
                    reachable.add(target)
                    frontier.append(target)
    assert reachable == set(JobState)
    assert NEW_JOB_STATE is S.QUEUED


def test_terminal_states_are_left_only_by_resume() -> None:
    assert {S.SUCCEEDED, S.FAILED, S.CANCELLED, S.INTERRUPTED} == TERMINAL_STATES
    assert {S.QUEUED, S.RUNNING} == ACTIVE_STATES
    for state in TERMINAL_STATES:
        leaving = {event for (source, event) in TRANSITIONS if source is state}
        assert leaving <= {E.RESUME}
    with pytest.raises(IllegalTransitionError):
        next_job_state(S.SUCCEEDED, E.RESUME)  # a success is never run again on its own


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
def test_finish_event_leads_from_running_to_that_state(state: JobState) -> None:
    assert next_job_state(S.RUNNING, finish_event(state)) is state


@pytest.mark.parametrize("state", [S.QUEUED, S.RUNNING])
def test_a_job_cannot_finish_queued_or_running(state: JobState) -> None:
    with pytest.raises(IllegalTransitionError, match=f"cannot finish {state.value}"):
        finish_event(state)


def test_kinds_and_states_are_the_issue_s_words() -> None:
    assert [k.value for k in JobKind] == [
        "get",
        "download",
        "backfill",
        "watch_cycle",
        "import",
        "package",
        "stream",
        "pipeline",
    ]
    assert [s.value for s in JobState] == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "interrupted",
    ]


def test_illegal_transition_error_pickles() -> None:
    with pytest.raises(IllegalTransitionError) as excinfo:
        next_job_state(S.SUCCEEDED, E.CANCEL)
    clone = pickle.loads(pickle.dumps(excinfo.value))
    assert (clone.message, clone.state, clone.event) == (
        excinfo.value.message,
        "succeeded",
        "cancel",
    )


def test_job_record_as_json_is_json_and_says_everything() -> None:
    t = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    progress = JobProgress(1, 2, 0, 10, 20, 5.0, 2.0, (InFlightFile("a.fits", 5, 10, 5.0, "s3"),))
    record = JobRecord(
        id=7,
        kind=JobKind.DOWNLOAD,
        params={"selection": {"instrument": "EUI"}},
        state=S.RUNNING,
        created_at=t,
        started_at=t,
        owner="host:1",
        lease_expires_at=t,
        cancel_requested=True,
        progress=progress,
        progress_at=t,
        updated_at=t,
    )
    document = json.loads(json.dumps(record.as_json()))
    assert document["id"] == 7
    assert (document["kind"], document["state"]) == ("download", "running")
    assert document["params"] == {"selection": {"instrument": "EUI"}}
    assert document["started_at"] == "2025-03-01T12:00:00+00:00"
    assert document["finished_at"] is None
    assert document["cancel_requested"] is True
    assert JobProgress.from_json(document["progress"]) == progress
    assert not record.finished
