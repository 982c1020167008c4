"""``skyhaul mast import`` against a misbehaving MAST and its S3 (issue 14, section 4): S3
stopped half-way through a large product, random 503s and dropped connections over HTTP,
products whose bytes are wrong (a corrupted HTTP body, a wrong DATASUM). Real simulator
over HTTP, real moto behind its fault proxy; the CLI in-process. Products without
Content-Length: tests/services/test_mast_faults.py."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.adapters.mast.fixtures import anonymous_s3
from tests.cli.conftest import Invoke

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.jobs import JobState
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileRecord
from skyhaul.core.paths import part_name
from skyhaul.sim.archive import ArchiveSpec
from skyhaul.sim.config import SimConfig
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.mast.dataset import MastProduct
from skyhaul.sim.s3_proxy import RunningProxy, start_proxy
from skyhaul.sim.s3_thread import S3SimThread
from skyhaul.sim.thread import SimThread

MIB = 1 << 20
KIB = 1 << 10
#: Observations of the simulator's default dataset (see skyhaul.sim.mast.catalog).
NIRCAM_30 = "jw02727-o002_t062_nircam_clear-f277w"  # 30 products, one of 12 MiB (its i2d)
NIRCAM_12 = "jw02739-o001_t001_nircam_clear-f090w"  # 12 products
MIRI = "jw01177-o007_t004_miri_f1280w"  # 6 products
NIRSPEC = "jw01366-o004_t001_nirspec_clear-prism"  # 8; its first cal has a wrong DATASUM
HST = "IEPW01010"  # 10 products; its first flt is corrupted over HTTP (S3's copy is right)
DEADLINE = 60.0


@pytest.fixture(scope="module")
def sim_config(tmp_path_factory: pytest.TempPathFactory) -> SimConfig:
    archive = ArchiveSpec.exact(1, 1024, seed=1)  # the file archive is not used here
    return SimConfig(archive=archive, root=tmp_path_factory.mktemp("mast-faults"))


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
    module_sim.stats.reset()
    yield module_sim
    module_sim.set_faults(FaultConfig())


@pytest.fixture(scope="module")
def module_s3(sim_config: SimConfig) -> Iterator[S3SimThread]:
    with S3SimThread(sim_config, bucket="skyhaul-cli-mast-faults", mast_bucket="stpubdata") as s3:
        yield s3


@pytest.fixture
def s3(module_s3: S3SimThread, monkeypatch: pytest.MonkeyPatch) -> S3SimThread:
    """MAST's bucket on the S3 simulator, in the AWS environment (unsigned)."""
    anonymous_s3(monkeypatch, module_s3.endpoint)
    module_s3.stats.reset()
    return module_s3


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _records(catalog_url: str) -> dict[str, FileRecord]:
    """The catalog's files by file name."""
    with open_catalog(catalog_url) as catalog:
        return {Path(r.path).name: r for r in catalog.list_files()}


def _import(skyhaul: Invoke, *args: str) -> tuple[int, dict[str, Any]]:
    result = skyhaul("mast", "import", *args, "-d", "data", "--no-progress", "--json")
    assert result.stdout, result.output
    return result.exit_code, json.loads(result.stdout)


def _job_state(catalog_url: str, job_id: int) -> JobState:
    with open_catalog(catalog_url) as catalog:
        job = catalog.get_job(job_id)
    assert job is not None
    return job.state


# --- 1. S3 stopped half-way --------------------------------------------------------------


class StopWhenServed(threading.Thread):
    """Stop ``proxy`` for good once it has served ``enough`` bytes of ``key``."""

    def __init__(self, s3: S3SimThread, proxy: RunningProxy, key: str, enough: int) -> None:
        super().__init__(name="stop-s3", daemon=True)
        self._s3, self._proxy, self._key, self._enough = s3, proxy, key, enough
        self.done = threading.Event()  # the import ended: stop waiting
        self.served_at_stop: int | None = None

    def served(self) -> int:
        return self._proxy.state.stats.snapshot().bytes_by_path.get(self._key, 0)

    def run(self) -> None:
        deadline = time.monotonic() + DEADLINE
        while self.served() < self._enough:
            if self.done.wait(0.01) or time.monotonic() > deadline:
                return
        self.served_at_stop = self.served()
        self._s3.call(self._proxy.close())  # listener and connections go, for good


def test_s3_stopped_half_way_the_import_goes_on_over_http_keeping_what_s3_sent(
    skyhaul: Invoke,
    sim: SimThread,
    s3: S3SimThread,
    catalog_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    products = sim.mast.products_of(NIRCAM_30)
    (large,) = [p for p in products if p.size > 8 * MIB]
    assert large.cloud_key and large.filename.endswith("_i2d.fits")
    # A proxy of its own in front of the module's moto, paced so that the large product
    # is part-way when it stops: the other tests keep theirs.
    proxy = s3.call(start_proxy(s3.moto_endpoint, FaultConfig(bandwidth=512 * KIB)))
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint)
    stopper = StopWhenServed(s3, proxy, large.cloud_key, 2 * MIB)
    stopper.start()
    try:
        code, summary = _import(
            skyhaul, NIRCAM_30, "--source", "auto", "--segment-size", "256KiB",
            "--max-per-host", "4",
        )  # fmt: skip
    finally:
        stopper.done.set()
        stopper.join(DEADLINE)
        if stopper.served_at_stop is None:
            s3.call(proxy.close())
    assert stopper.served_at_stop is not None, "S3 never served 2 MiB of the large product"
    assert code == 0, summary
    assert (summary["downloaded"], summary["failed"], summary["abandoned"]) == (30, 0, 0)
    assert summary["sources_switched"] >= 1
    assert _job_state(catalog_url, summary["job"]) is JobState.SUCCEEDED
    for made in sim.mast_files(products):
        (found,) = (tmp_path / "data").rglob(made.product.filename)
        assert _sha256(found) == made.sha256, found
    record = _records(catalog_url)[large.filename]
    with open_catalog(catalog_url) as catalog:
        (attempt,) = catalog.attempts(record.id)  # the move to HTTP happened within it
    served = dict(attempt.sources)
    from_s3 = served[f"s3://stpubdata/{large.cloud_key}"]
    from_http = sim.stats.snapshot().bytes_by_path[large.data_uri]
    assert from_s3 >= MIB  # a good part came from S3 before it stopped...
    assert from_http <= large.size - from_s3  # ...and was kept: HTTP sent only the rest
    assert from_s3 + served[sim.mast.download_url(large.data_uri)] == large.size


# --- 2. HTTP with random 503s and dropped connections ------------------------------------


def test_an_http_import_through_503s_and_dropped_connections(
    skyhaul: Invoke, sim: SimThread, tmp_path: Path
) -> None:
    products = [*sim.mast.products_of(NIRCAM_12), *sim.mast.products_of(MIRI)]
    made = sim.mast_files(products)  # made beforehand: each request draws its faults at once
    # Seed 57 answers the 1st and 6th requests 503 and cuts the 2nd after 512 bytes (every
    # product is longer); later requests draw what they draw.
    sim.set_faults(FaultConfig(seed=57, p503=0.05, drop_after=512, p_drop=0.05))
    code, summary = _import(skyhaul, NIRCAM_12, MIRI, "--source", "http")
    assert code == 0, summary
    assert (summary["downloaded"], summary["failed"], summary["abandoned"]) == (18, 0, 0)
    stats = sim.stats.snapshot()
    assert stats.by_status.get(503, 0) >= 2 and stats.dropped >= 1, stats
    # Each fault met was retried, and repaired.
    assert summary["retries"] == {"server": stats.by_status[503], "connect": stats.dropped}
    for one in made:
        (found,) = (tmp_path / "data").rglob(one.product.filename)
        assert _sha256(found) == one.http_sha256, found


# --- 3. Wrong bytes are never promoted ---------------------------------------------------


def _no_trace(root: Path, product: MastProduct) -> None:
    """Nothing of ``product`` under ``root``: no file under its name, no part file."""
    names = {p.name for p in root.rglob("*") if p.is_file()}
    assert not names & {product.filename, part_name(product.filename)}, names


def test_a_wrong_datasum_everywhere_is_never_promoted(
    skyhaul: Invoke, sim: SimThread, s3: S3SimThread, catalog_url: str, tmp_path: Path
) -> None:
    products = sim.mast.products_of(NIRSPEC)
    (bad,) = [p for p in products if p.bad_datasum]
    assert bad.data_uri == "mast:JWST/product/jw01366004001_02101_00001_nrs1_cal.fits"
    code, summary = _import(skyhaul, NIRSPEC, "--source", "auto", "--max-attempts", "2")
    assert code == 1, summary
    assert (summary["downloaded"], summary["failed"] + summary["abandoned"]) == (7, 1)
    (failure,) = summary["failures"]
    assert failure["error_class"] == "integrity" and "DATASUM" in failure["message"], failure
    records = _records(catalog_url)
    record = records.pop(bad.filename)
    assert record.state is FileState.ABANDONED and record.error_class == "integrity"
    assert {r.state for r in records.values()} == {FileState.DOWNLOADED}
    _no_trace(tmp_path, bad)
    assert record.attempts == 2
    # Each attempt read S3's copy whole, then MAST's: both wrong.
    assert s3.stats.snapshot().bytes_by_path[str(bad.cloud_key)] == 2 * bad.size
    assert sim.mast.stats.snapshot().downloads[bad.data_uri] == 2
    assert _job_state(catalog_url, summary["job"]) is JobState.FAILED


def test_the_copy_http_corrupts_comes_right_from_s3(
    skyhaul: Invoke, sim: SimThread, s3: S3SimThread, tmp_path: Path
) -> None:
    products = sim.mast.products_of(HST)
    (corrupt,) = [p for p in products if p.corrupt_http]
    code, summary = _import(skyhaul, HST, "--source", "auto")
    assert code == 0, summary
    assert summary["downloaded"] == 10
    assert corrupt.data_uri not in sim.mast.stats.snapshot().downloads  # S3's copy, first
    for made in sim.mast_files(products):
        (found,) = (tmp_path / "data").rglob(made.product.filename)
        assert _sha256(found) == made.sha256, found
    (flt,) = sim.mast_files([corrupt])
    assert flt.sha256 != flt.http_sha256
