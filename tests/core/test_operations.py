from __future__ import annotations

import pytest

from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.operations import (
    DEFAULT_MAX_RETRIES,
    NewOperation,
    OperationEvent,
    OperationKind,
    OperationStatus,
    after_failure,
    next_operation_status,
)
from skyhaul.errors import IllegalTransitionError

S = OperationStatus
E = OperationEvent


@pytest.mark.parametrize(
    ("events", "final"),
    [
        ([E.START, E.COMPLETE], S.COMPLETED),
        ([E.SCHEDULE, E.START, E.COMPLETE], S.COMPLETED),
        ([E.START, E.FAIL_RETRYABLE, E.START], S.IN_PROGRESS),
        ([E.START, E.LEASE_EXPIRED, E.SCHEDULE], S.SCHEDULED),
        ([E.START, E.FAIL_PERMANENT, E.RETRY], S.PENDING),
    ],
)
def test_operations_move_through_the_table(
    events: list[OperationEvent], final: OperationStatus
) -> None:
    status = S.PENDING
    for event in events:
        status = next_operation_status(status, event)
    assert status is final


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (S.PENDING, E.COMPLETE),
        (S.COMPLETED, E.START),
        (S.COMPLETED, E.RETRY),
        (S.FAILED, E.START),
        (S.IN_PROGRESS, E.START),
        (S.SCHEDULED, E.LEASE_EXPIRED),
    ],
)
def test_illegal_operation_transitions_raise(
    status: OperationStatus, event: OperationEvent
) -> None:
    with pytest.raises(IllegalTransitionError, match="illegal operation transition"):
        next_operation_status(status, event)


def test_a_retryable_failure_goes_back_to_pending_counting_a_retry() -> None:
    decision = after_failure(0, 3, ErrorClass.CONNECT)
    assert (decision.status, decision.retries, decision.permanent) == (S.PENDING, 1, False)
    assert decision.event is E.FAIL_RETRYABLE
    assert next_operation_status(S.IN_PROGRESS, decision.event) is decision.status


def test_retries_run_out_after_max_retries() -> None:
    retries, runs = 0, 0
    while True:
        runs += 1
        decision = after_failure(retries, DEFAULT_MAX_RETRIES, ErrorClass.INTEGRITY)
        if decision.permanent:
            break
        retries = decision.retries
    assert (runs, retries, DEFAULT_MAX_RETRIES) == (4, 3, 3)
    assert decision.status is S.FAILED and decision.event is E.FAIL_PERMANENT
    assert next_operation_status(S.IN_PROGRESS, decision.event) is S.FAILED


def test_a_permanent_error_class_fails_at_once() -> None:
    decision = after_failure(0, 3, ErrorClass.CLIENT)
    assert (decision.status, decision.retries, decision.permanent) == (S.FAILED, 0, True)


def test_an_error_without_a_class_is_retried_and_classes_are_configurable() -> None:
    assert not after_failure(0, 3, None).permanent
    assert after_failure(
        0, 3, ErrorClass.DISK, permanent_classes=frozenset({ErrorClass.DISK})
    ).permanent
    assert after_failure(0, 0, ErrorClass.CONNECT).permanent


def test_open_key_names_the_operation_not_its_retry_settings() -> None:
    a = NewOperation(OperationKind.TRANSFER, package_id=3, destination_location=5)
    b = NewOperation(OperationKind.TRANSFER, package_id=3, destination_location=5, max_retries=9)
    c = NewOperation(OperationKind.TRANSFER, package_id=3, destination_location=6)
    assert a.open_key == b.open_key != c.open_key
    with pytest.raises(ValueError, match="max_retries"):
        NewOperation(OperationKind.DELETE, copy_id=1, max_retries=-1)
