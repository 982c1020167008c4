"""``skyhaul pipeline run --executor celery``: what it refuses, and ``--detach``: the job
queued and its first queue published on a real Redis (database 10), no worker needed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from tests.services.observatory.conftest import make_setup

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobs import JobKind, JobState

from .conftest import Invoke

BROKER = "redis://127.0.0.1:6379/5"


@pytest.fixture
def broker(redis_url: str) -> Iterator[redis.Redis]:
    """Database 10 of the test Redis, empty (skipped, or failed under CI=true, without it)."""
    del redis_url
    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    yield client
    client.close()


def test_an_unknown_executor_or_a_bad_lease_is_refused(skyhaul: Invoke) -> None:
    result = skyhaul("pipeline", "run", "--executor", "ray")
    assert result.exit_code == 2 and "not local or celery" in result.output
    result = skyhaul("pipeline", "run", "--executor", "celery", "--lease", "0s")
    assert result.exit_code == 2 and "--lease" in result.output


def test_detach_queues_the_job_plans_and_publishes_its_first_queue(
    skyhaul: Invoke, catalog: Catalog, tmp_path: Path, broker: redis.Redis
) -> None:
    setup = make_setup(catalog, tmp_path / "obs")
    setup.write_files(4)
    result = skyhaul(
        "pipeline", "run", "--executor", "celery", "--broker", BROKER, "--detach", "--lease", "30s"
    )
    assert result.exit_code == 0, result.output
    job = catalog.get_job(int(result.stdout.strip()))
    assert job is not None and job.kind is JobKind.PIPELINE and job.state is JobState.QUEUED
    assert job.params["executor"] == "celery" and job.params["settings"]["lease_seconds"] == 30
    assert catalog.packages()  # planned by the command, before any worker
    assert broker.llen("obs_raw_create_package") == 1
    assert broker.llen("obs_buf1_transfer") == 0  # nothing to transfer yet
