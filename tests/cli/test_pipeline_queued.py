"""``skyhaul pipeline run --executor celery``: what it refuses, and ``--detach``: the job
queued and its first queue published on a real Redis (database 10), no worker needed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis
from tests.services.observatory.conftest import make_setup

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobs import JobKind, JobState

from .conftest import Invoke

BROKER = "redis://127.0.0.1:6379/10"


def _broker() -> redis.Redis:
    client = redis.Redis.from_url(BROKER, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as error:
        message = f"Redis not reachable at {BROKER} ({error})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " and CI=true requires it")
        pytest.skip(message)
    return client


def test_an_unknown_executor_or_a_bad_lease_is_refused(skyhaul: Invoke) -> None:
    result = skyhaul("pipeline", "run", "--executor", "ray")
    assert result.exit_code == 2 and "not local or celery" in result.output
    result = skyhaul("pipeline", "run", "--executor", "celery", "--lease", "0s")
    assert result.exit_code == 2 and "--lease" in result.output


def test_detach_queues_the_job_plans_and_publishes_its_first_queue(
    skyhaul: Invoke, catalog: Catalog, tmp_path: Path
) -> None:
    broker = _broker()
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
