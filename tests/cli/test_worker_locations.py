"""``skyhaul worker --locations`` and ``pipeline run --executor``: what they refuse before
any worker starts or any job is queued (a bad argument: one line, exit 2)."""

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


def test_an_unknown_executor_or_a_bad_lease_is_refused(skyhaul: Invoke) -> None:
    result = skyhaul("pipeline", "run", "--executor", "ray")
    assert result.exit_code == 2 and "not local or celery" in result.output
    result = skyhaul("pipeline", "run", "--executor", "celery", "--lease", "0s")
    assert result.exit_code == 2 and "--lease" in result.output
