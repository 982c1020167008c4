"""``skyhaul mast`` and the astroquery drop-in end to end against the simulator's MAST side:
the CLI's JSON, an import over HTTP and over S3, an import killed and resumed with ``jobs
resume``, and astroquery's own product table downloaded by ``skyhaul.mast``."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.adapters.mast.fixtures import anonymous_s3
from tests.cli.conftest import Invoke

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.sim.archive import ArchiveSpec
from skyhaul.sim.config import SimConfig
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.s3_thread import S3SimThread
from skyhaul.sim.thread import SimThread

MIRI = "jw01177-o007_t004_miri_f1280w"  # 6 products, 5 in the cloud
NIRCAM_12 = "jw02739-o001_t001_nircam_clear-f090w"  # 12 products, 11 in the cloud
TESS = "tess2018206045859-s0001-0000000261136679-0120-s"  # 4 products


@pytest.fixture(scope="module")
def sim_config(tmp_path_factory: pytest.TempPathFactory) -> SimConfig:
    archive = ArchiveSpec.exact(1, 1024, seed=1)  # the file archive is not used here
    return SimConfig(archive=archive, root=tmp_path_factory.mktemp("mast-sim"))


@pytest.fixture(scope="module")
def module_sim(sim_config: SimConfig) -> Iterator[SimThread]:
    with SimThread(sim_config) as running:
        yield running


@pytest.fixture
def sim(module_sim: SimThread, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimThread]:
    """The simulator in ``SKYHAUL_MAST_URL``, faults off, counters at zero."""
    monkeypatch.setenv("SKYHAUL_MAST_URL", module_sim.mast.server_url)
    module_sim.set_faults(FaultConfig())
    module_sim.mast.stats.reset()
    yield module_sim
    module_sim.set_faults(FaultConfig())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _on_disk(root: Path, sim: SimThread, obs_id: str, *, http: bool) -> None:
    """Every product of ``obs_id`` is under ``root/<mission>/<obs_id>/`` with MAST's bytes."""
    for made in sim.mast_files(sim.mast.products_of(obs_id)):
        (found,) = root.rglob(made.product.name.filename)
        assert found.relative_to(root).parts[0] == made.product.observation.plan.collection
        assert _sha256(found) == (made.http_sha256 if http else made.sha256), found


def test_search_json_with_filters(skyhaul: Invoke, sim: SimThread) -> None:
    result = skyhaul(
        "mast", "search", "--target", "Pi Men", "--radius", "12arcmin", "--mission", "TESS",
        "--product-type", "SCIENCE", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    pi_men = [o for o in sim.mast.observations if o.plan.target == "Pi Men"]
    assert sorted(r["obs_id"] for r in rows) == sorted(o.plan.obs_id for o in pi_men)
    for row in rows:
        science = [
            p for p in sim.mast.products_of(row["obs_id"]) if p.name.product_type == "SCIENCE"
        ]
        assert (row["products"], row["size"]) == (len(science), sum(p.size for p in science))
        assert (row["mission"], row["instrument"]) == ("TESS", "Photometer")


def test_import_over_http(
    skyhaul: Invoke, sim: SimThread, tmp_path: Path, catalog_url: str
) -> None:
    result = skyhaul("mast", "import", MIRI, "--source", "http", "-d", "data", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["downloaded"], summary["failed"], summary["products"]) == (6, 0, 6)
    _on_disk(tmp_path / "data", sim, MIRI, http=True)
    stats = sim.mast.stats.snapshot()
    assert stats.requests.get("path_lookup", 0) == 0
    assert sum(stats.downloads.values()) == 6
    with open_catalog(catalog_url) as catalog:
        job = catalog.get_job(summary["job"])
    assert job is not None and (job.kind, job.state) == (JobKind.IMPORT, JobState.SUCCEEDED)


@pytest.fixture(scope="module")
def module_s3(sim_config: SimConfig) -> Iterator[S3SimThread]:
    with S3SimThread(sim_config, bucket="skyhaul-cli-mast", mast_bucket="stpubdata") as s3:
        yield s3


@pytest.fixture
def s3(module_s3: S3SimThread, monkeypatch: pytest.MonkeyPatch) -> S3SimThread:
    """MAST's bucket on the S3 simulator, in the AWS environment (unsigned)."""
    anonymous_s3(monkeypatch, module_s3.endpoint)
    module_s3.stats.reset()
    return module_s3


def test_import_over_s3_skips_what_is_not_in_the_cloud(
    skyhaul: Invoke, sim: SimThread, s3: S3SimThread, tmp_path: Path
) -> None:
    result = skyhaul("mast", "import", NIRCAM_12, "--source", "s3", "-d", "data", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    not_in_cloud = [p for p in sim.mast.products_of(NIRCAM_12) if not p.name.cloud_key]
    assert [s["filename"] for s in summary["skipped"]] == [p.name.filename for p in not_in_cloud]
    assert summary["downloaded"] == 12 - len(not_in_cloud)
    assert sim.mast.stats.snapshot().downloads == {}
    assert s3.stats.snapshot().by_method.get("GET", 0) >= summary["downloaded"]
    human = skyhaul("mast", "import", NIRCAM_12, "--source", "s3", "-d", "data")
    assert "1 product skipped:" in human.stdout and len(not_in_cloud) == 1


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "skyhaul.cli.app", *args]


def test_an_import_killed_midway_resumes_with_jobs_resume(
    sim: SimThread, tmp_path: Path, catalog_url: str
) -> None:
    sim.set_faults(FaultConfig(latency=0.3))
    command = _cli(
        "mast", "import", NIRCAM_12, "--source", "http", "-d", "data", "-j", "1",
        "-P", "1", "--no-progress",
    )  # fmt: skip
    env = {**os.environ, "SKYHAUL_MAST_URL": sim.mast.server_url}
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        job_id = _running_import(catalog_url, child)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
        child.communicate(timeout=30)
    sim.set_faults(FaultConfig())
    listed = subprocess.run(_cli("jobs", "--json"), capture_output=True, text=True, timeout=60)
    assert [(j["id"], j["kind"], j["state"]) for j in json.loads(listed.stdout)] == [
        (job_id, "import", "interrupted")
    ]
    again = subprocess.run(
        _cli("jobs", "resume", str(job_id), "--json"), capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["job"] == job_id
    _on_disk(tmp_path / "data", sim, NIRCAM_12, http=True)
    with open_catalog(catalog_url) as catalog:
        job = catalog.get_job(job_id)
    assert job is not None and job.state is JobState.SUCCEEDED


def _running_import(catalog_url: str, child: subprocess.Popen[bytes], timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while True:
        with open_catalog(catalog_url) as catalog:
            jobs = catalog.list_jobs(states=[JobState.RUNNING])
        if jobs and jobs[0].progress is not None and jobs[0].progress.files_done >= 1:
            return jobs[0].id
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline, "the import's job never ran"
        time.sleep(0.05)


def test_astroquerys_product_table_downloads_with_skyhaul(
    sim: SimThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from astroquery.mast import Observations
    from astroquery.mast.discovery_portal import PortalAPI

    server = sim.mast.server_url
    monkeypatch.setattr(PortalAPI, "MAST_REQUEST_URL", server + "/api/v0/invoke")
    monkeypatch.setattr(
        PortalAPI, "COLUMNS_CONFIG_URL", server + "/portal/Mashup/Mashup.asmx/columnsconfig"
    )
    monkeypatch.setattr(PortalAPI, "MAST_DOWNLOAD_URL", server + "/api/v0.1/Download/file")
    table = Observations.get_product_list(str(sim.mast.observation(MIRI).plan.obsid))
    assert len(table) == 6

    from skyhaul.mast import download_products

    monkeypatch.chdir(tmp_path)
    manifest = download_products(table, download_dir="astro", source="http", productType="SCIENCE")
    science = [p for p in sim.mast.products_of(MIRI) if p.name.product_type == "SCIENCE"]
    assert list(manifest["Status"]) == ["COMPLETE"] * len(science)
    for row in manifest:
        path = Path(row["Local Path"])
        assert path.parts[:3] == ("astro", "mastDownload", "JWST")
        made = next(f for f in sim.mast_files(science) if f.product.name.filename == path.name)
        assert _sha256(path) == made.http_sha256
