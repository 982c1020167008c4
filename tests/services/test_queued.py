"""Jobs queued for workers: the files a queued ``download`` links, and the jobs the
manager publishes again with their kinds (which say their queues). SQLite, no broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobs import JobKind
from skyhaul.core.model import FileSpec, Selection, TransferOptions
from skyhaul.services.clock import SYSTEM_CLOCK
from skyhaul.services.queued import (
    fair_share,
    jobs_with_work,
    queue_download,
    queue_get,
    work_on_job,
)
from skyhaul.sim.archive import ArchiveSpec
from skyhaul.sim.config import SimConfig
from skyhaul.sim.thread import SimThread
from skyhaul.worker.app import queue_of

from .conftest import specs_from

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


def test_a_fair_share_is_the_files_left_over_the_workers_rounded_up() -> None:
    assert [fair_share(left, 4) for left in (0, 1, 4, 8, 9, 20_000)] == [1, 1, 1, 2, 3, 5_000]
    assert fair_share(8, 1) == 8 and fair_share(8, 0) == 8


def test_a_worker_holds_only_its_share_of_a_job_of_few_files(
    catalog: Catalog, sim_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight large files published to four workers: each holds two at a time, so the
    first worker does not take the whole job; alone, it still does every file."""
    wanted: list[int] = []
    claim_batch = catalog.claim_batch

    def counting_claim(owner: str, limit: int, **kwargs: object) -> object:
        wanted.append(limit)
        return claim_batch(owner, limit, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(catalog, "claim_batch", counting_claim)
    spec = ArchiveSpec.exact(8, 64 * 1024, seed=5)
    with SimThread(SimConfig(archive=spec, root=sim_root)) as server:
        job_id, _ = queue_get(
            catalog, specs_from(server), str(tmp_path / "out"), TransferOptions(), params=CELERY
        )
        summary = work_on_job(catalog, job_id, share=4)
    assert summary.downloaded == 8
    assert wanted and max(wanted) <= 2, wanted
