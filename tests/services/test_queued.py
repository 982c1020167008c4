"""Jobs queued for workers: the files a queued ``download`` links, and the jobs the
manager publishes again with their kinds (which say their queues). SQLite, no broker."""

from __future__ import annotations

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobs import JobKind
from skyhaul.core.model import FileSpec, Selection, TransferOptions
from skyhaul.services.clock import SYSTEM_CLOCK
from skyhaul.services.queued import jobs_with_work, queue_download, queue_get
from skyhaul.worker.app import queue_of

CELERY = {"executor": "celery"}


def _specs(source: str, n: int) -> list[FileSpec]:
    return [
        FileSpec(f"https://a.example/{source}/{i}.fits", f"{source}/{i}.fits", source=source)
        for i in range(n)
    ]


def test_a_queued_download_links_the_eligible_files_of_its_selection(catalog: Catalog) -> None:
    catalog.register(_specs("a", 7) + _specs("b", 3), "/data", now=SYSTEM_CLOCK.now())
    job_id, linked = queue_download(
        catalog, TransferOptions(), Selection(source="a"), params=CELERY, batch=3
    )
    assert linked == 7
    assert {f.path for f in catalog.list_files(job_id=job_id)} == {f"a/{i}.fits" for i in range(7)}
    job = catalog.get_job(job_id)
    assert job is not None and job.kind is JobKind.DOWNLOAD
    assert job.params["selection"] == {"source": "a"} and job.params["executor"] == "celery"


def test_jobs_with_work_name_their_kinds_and_so_their_queues(catalog: Catalog) -> None:
    options = TransferOptions()
    get_id, _ = queue_get(catalog, _specs("g", 2), "/data", options, params=CELERY)
    local_id, _ = queue_get(catalog, _specs("l", 2), "/data", options)
    import_id, _ = queue_get(
        catalog, _specs("m", 2), "/data", options, kind=JobKind.IMPORT, params=CELERY
    )
    found = jobs_with_work(catalog, "celery")
    assert found == {get_id: JobKind.GET, import_id: JobKind.IMPORT}
    assert local_id not in found
    assert [queue_of(kind) for kind in found.values()] == ["downloads", "imports"]
    assert queue_of(JobKind.DOWNLOAD) == "downloads"


def test_jobs_with_work_leave_out_backfills_and_pipelines(catalog: Catalog) -> None:
    """Their work is days or operations, republished by their own queues' rules."""
    options = TransferOptions()
    backfill_id, _ = queue_get(
        catalog, _specs("b", 2), "/data", options, kind=JobKind.BACKFILL, params=CELERY
    )
    assert backfill_id not in jobs_with_work(catalog, "celery")
