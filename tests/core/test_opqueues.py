"""Queue names of observatory operations: one per site, location and kind."""

from __future__ import annotations

import pytest

from skyhaul.core.operations import OperationKind
from skyhaul.core.opqueues import (
    OPERATION_HOMES,
    OperationEnd,
    colliding_locations,
    home_location,
    location_queues,
    operation_queue,
)


def test_a_queue_is_named_site_location_kind() -> None:
    assert operation_queue("ccat", "buffer", OperationKind.TRANSFER) == "ccat_buffer_transfer"
    assert operation_queue("dc1", "lta", "unpack_verify") == "dc1_lta_unpack_verify"


@pytest.mark.parametrize(
    ("site", "location", "kind"),
    [("cc at", "buf", "transfer"), ("ccat", "a/b", "transfer"), ("ccat", "buf", "teleport")],
)
def test_names_that_are_not_queue_safe_are_refused(site: str, location: str, kind: str) -> None:
    with pytest.raises(ValueError):
        operation_queue(site, location, kind)


def test_every_kind_has_a_home_and_a_transfer_runs_at_its_source() -> None:
    assert set(OPERATION_HOMES) == set(OperationKind)
    assert home_location(OperationKind.TRANSFER, 1, 2) == 1
    assert home_location(OperationKind.UNPACK_VERIFY, 1, 2) == 2
    assert OPERATION_HOMES[OperationKind.DELETE] is OperationEnd.SOURCE


def test_a_location_has_one_queue_per_kind() -> None:
    queues = location_queues("obs", "raw")
    assert len(queues) == len(OperationKind) and "obs_raw_create_package" in queues


def test_locations_whose_queues_would_share_a_name_are_found() -> None:
    assert colliding_locations([("a_b", "c"), ("a", "b_c"), ("x", "y")]) == [("a_b/c", "a/b_c")]
    assert colliding_locations([("a", "b"), ("a", "b")]) == []
