"""What a viewer reads of a job in a list: a few words naming what it works on."""

from __future__ import annotations

from skyhaul.core.jobs import JobKind
from skyhaul.services.job_view import job_subject


def test_an_import_names_its_observations() -> None:
    params = {"dest_root": "/d", "mast": {"obs_ids": ["a", "b", "c"], "product_type": "SCIENCE"}}
    assert job_subject(JobKind.IMPORT, params) == "MAST a, b +1 (SCIENCE)"
    assert job_subject(JobKind.IMPORT, {"mast": {"obs_ids": ["a"]}}) == "MAST a"


def test_a_backfill_names_its_source_and_days() -> None:
    params = {"source": "telemetry", "first": "2026-01-01", "last": "2026-01-31"}
    assert job_subject(JobKind.BACKFILL, params) == "telemetry 2026-01-01..2026-01-31"


def test_a_download_names_its_selection_and_a_get_its_destination() -> None:
    selection = {"source": "lab", "instrument": "NIRCAM", "states": None}
    assert (
        job_subject(JobKind.DOWNLOAD, {"selection": selection}) == "source lab, instrument NIRCAM"
    )
    assert job_subject(JobKind.GET, {"dest_root": "/data"}) == "into /data"
    assert (
        job_subject(JobKind.GET, {"dest_root": "s3://k:secret@b/x"}) == "into s3://k:REDACTED@b/x"
    )


def test_a_queued_pipeline_run_names_its_stages() -> None:
    params = {"executor": "celery", "stages": ["packaging", "transfer"], "settings": {}}
    assert job_subject(JobKind.PIPELINE, params) == "pipeline packaging,transfer"
