"""A job run by workers is settled only when no file waits, runs, or fails with a retry
due within the job's ``max_wait`` (the retry the one-process engine would wait for)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.jobs import JobState
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import Completion, FileSpec, TransferOptions
from skyhaul.services.clock import Clock
from skyhaul.services.queued import finish_settled, job_is_settled, queue_get

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


#: A clock stopped at ``NOW``.
AT_NOW = Clock(now=lambda: NOW)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    opened = open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield opened
    opened.close()


def _job_with_one_failed(catalog: Catalog, retry_in: float, *, max_wait: float) -> int:
    """A job of two files: one downloaded, one FAILED with its retry ``retry_in`` s away."""
    specs = [FileSpec(url=f"http://example.invalid/{n}", path=f"f{n}", size=4) for n in (1, 2)]
    job_id, _ = queue_get(catalog, specs, "/tmp/dest", TransferOptions(max_wait=max_wait))
    done, failed = catalog.claim_batch("w", 2, now=NOW, lease_seconds=60, job_id=job_id)
    completion = Completion(file_id=done.id, size=4, sha256="0" * 64)
    assert catalog.complete_many([completion], "w", now=NOW) == {done.id}
    catalog.fail(
        failed.id,
        "w",
        now=NOW,
        error_class="server",
        message="503",
        next_attempt_at=NOW + timedelta(seconds=retry_in),
        permanent=False,
    )
    return job_id


def test_a_failed_file_due_within_max_wait_keeps_the_job_open(catalog: Catalog) -> None:
    job_id = _job_with_one_failed(catalog, 30.0, max_wait=60.0)
    settled, states = job_is_settled(catalog, job_id, clock=AT_NOW)
    assert states == {FileState.DOWNLOADED: 1, FileState.FAILED: 1}
    assert not settled
    # Nor does anyone end it while its retry is due.
    assert finish_settled(catalog, job_id) is None
    job = catalog.get_job(job_id)
    assert job is not None and job.state is JobState.QUEUED


def test_a_failed_file_due_after_max_wait_is_left_to_a_later_run(catalog: Catalog) -> None:
    job_id = _job_with_one_failed(catalog, 3600.0, max_wait=60.0)
    settled, _ = job_is_settled(catalog, job_id, clock=AT_NOW)
    assert settled
