"""``skyhaul worker --locations``: every operation queue of the locations named; a bad
reference refused before any worker starts (one line, exit 2)."""

from __future__ import annotations

from skyhaul.cli.worker import _location_queues

from .conftest import Invoke


def test_locations_expand_to_every_operation_queue_of_each() -> None:
    queues = _location_queues("obs/raw, dc1/lta")
    assert "obs_raw_create_package" in queues and "dc1_lta_unpack_verify" in queues
    assert len(queues) == 12


def test_a_bad_location_is_refused_before_a_worker_starts(skyhaul: Invoke) -> None:
    result = skyhaul("worker", "--locations", "obs/raw,not a ref")
    assert result.exit_code == 2
    assert "--locations" in result.output and "Traceback" not in result.output
