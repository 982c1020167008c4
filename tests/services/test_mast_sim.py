"""MAST search and import end to end against the simulator's MAST side (``skyhaul.sim``):
paging, filters, EXECUTING and ERROR from its knobs, names it resolves, imports over HTTP and
over its S3 (the ``stpubdata`` bucket), path lookups counted by the simulator."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tests.adapters.mast.fixtures import Sleeps, anonymous_s3

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.mast import PATH_LOOKUP_BATCH, InvokeLimits, MastClient
from skyhaul.core.model import TransferOptions
from skyhaul.errors import SourceError, UsageError
from skyhaul.services.mast_import import (
    ImportResult,
    SourceChoice,
    plan_import,
    prepare_import,
)
from skyhaul.services.mast_search import SearchCriteria, search
from skyhaul.sim.archive import ArchiveSpec
from skyhaul.sim.config import SimConfig
from skyhaul.sim.mast.files import ProductFile
from skyhaul.sim.s3_thread import S3SimThread
from skyhaul.sim.thread import SimThread

OPTIONS = TransferOptions(concurrency=8, max_attempts=3, retry_base_delay=0.01)
#: Observations of the simulator's default dataset (see skyhaul.sim.mast.catalog).
MIRI = "jw01177-o007_t004_miri_f1280w"  # 6 products, one (a preview) not in the cloud
NIRCAM_30 = "jw02727-o002_t062_nircam_clear-f277w"  # 30 products
NIRCAM_12 = "jw02739-o001_t001_nircam_clear-f090w"  # 12 products
HST = "IEPW01010"  # 10 products; its first flt is corrupted over HTTP (S3's copy is right)
PI_MEN = (84.291188, -80.469138)


@pytest.fixture(scope="module")
def sim_config(tmp_path_factory: pytest.TempPathFactory) -> SimConfig:
    archive = ArchiveSpec.exact(1, 1024, seed=1)  # the file archive is not used here
    return SimConfig(archive=archive, root=tmp_path_factory.mktemp("mast-sim"))


@pytest.fixture(scope="module")
def sim(sim_config: SimConfig) -> Iterator[SimThread]:
    with SimThread(sim_config) as running:
        yield running


@pytest.fixture
def mast_sim(sim: SimThread) -> Iterator[SimThread]:
    """The simulator with its MAST knobs off and its counters at zero."""
    sim.set_mast_knobs(executing_polls=0, error_services=[], error_next=0)
    sim.mast.stats.reset()
    yield sim
    sim.set_mast_knobs(executing_polls=0, error_services=[], error_next=0)


@pytest.fixture
async def client(mast_sim: SimThread, sleeps: Sleeps) -> AsyncIterator[MastClient]:
    opened = MastClient(
        mast_sim.mast.server_url,
        limits=InvokeLimits(page_size=2, poll_delay=0.5),
        sleep=sleeps,
        clock=sleeps.clock,
    )
    yield opened
    await opened.aclose()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


async def test_search_pages_through_every_row(client: MastClient, mast_sim: SimThread) -> None:
    rows = await search(client, SearchCriteria(ra=PI_MEN[0], dec=PI_MEN[1], radius=0.2))
    expected = [o.plan.obs_id for o in mast_sim.mast.observations if o.plan.target == "Pi Men"]
    assert sorted(r.observation.obs_id for r in rows) == sorted(expected)
    for row in rows:
        products = mast_sim.mast.products_of(row.observation.obs_id)
        assert (row.products, row.size) == (len(products), sum(p.size for p in products))
    stats = mast_sim.mast.stats.snapshot()
    # Two observations, seven products: pages of two rows.
    assert stats.services == {"Mast.Caom.Cone": 1, "Mast.Caom.Products": 4}


async def test_search_filters_by_instrument_mode_and_level(
    client: MastClient, mast_sim: SimThread
) -> None:
    ngc628 = next(t for t in mast_sim.mast.observations if t.plan.target == "NGC 628").target
    everything = await search(client, SearchCriteria(ra=ngc628.ra, dec=ngc628.dec, radius=0.1))
    assert len({r.observation.mission for r in everything}) == 2  # JWST and HST
    criteria = SearchCriteria(
        ra=ngc628.ra, dec=ngc628.dec, radius=0.1, instrument="nircam", calib_levels=(3,)
    )
    rows = await search(client, criteria)
    assert [r.observation.obs_id for r in rows] == [NIRCAM_30]
    assert mast_sim.mast.stats.snapshot().services["Mast.Caom.Filtered.Position"] == 1


async def test_a_name_and_its_alias_resolve(client: MastClient, mast_sim: SimThread) -> None:
    rows = await search(client, SearchCriteria(target="Crab Nebula"))
    assert [r.observation.obs_id for r in rows] == ["IDXY04040"]
    with pytest.raises(UsageError, match="MAST could not resolve the name 'No Such Thing'"):
        await search(client, SearchCriteria(target="No Such Thing"))


async def test_executing_answers_are_polled(
    client: MastClient, mast_sim: SimThread, sleeps: Sleeps
) -> None:
    mast_sim.set_mast_knobs(executing_polls=2)
    rows = await search(client, SearchCriteria(obs_id=MIRI))
    assert [r.observation.obs_id for r in rows] == [MIRI]
    answers = mast_sim.mast.stats.snapshot().answers
    # Four requests (the filtered query, three pages of its six products), each polled twice.
    assert (answers["EXECUTING"], answers["COMPLETE"]) == (8, 4)
    assert sleeps.waits == [0.5] * 8


async def test_an_error_answer_is_a_source_error(client: MastClient, mast_sim: SimThread) -> None:
    mast_sim.set_mast_knobs(error_services=["Mast.Caom.Products"])
    with pytest.raises(SourceError, match=r"^MAST Mast.Caom.Products: "):
        await search(client, SearchCriteria(obs_id=MIRI))


def _names(root: Path) -> set[str]:
    """The names of the files under ``root`` (part files included)."""
    return {path.name for path in root.rglob("*") if path.is_file()}


def _on_disk(root: Path, made: list[ProductFile]) -> dict[str, str]:
    """The SHA-256 of each product's file under ``root/<mission>/<obs_id>/``."""
    found = {}
    for f in made:
        (path,) = root.rglob(f.product.name.filename)
        assert len(path.relative_to(root).parts) == 3, path
        found[f.product.name.filename] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


async def _import(
    catalog: Catalog, url: str, obs_ids: list[str], dest: Path, source: SourceChoice
) -> ImportResult:
    client = MastClient(url)
    try:
        plan = await plan_import(client, obs_ids, source=source)
    finally:
        await client.aclose()
    run, _ = prepare_import(catalog, plan, str(dest), OPTIONS)
    return ImportResult(await run.run(asyncio.Event()), plan)


async def test_an_import_over_http(mast_sim: SimThread, catalog: Catalog, tmp_path: Path) -> None:
    result = await _import(catalog, mast_sim.mast.server_url, [MIRI], tmp_path, SourceChoice.HTTP)
    products = mast_sim.mast.products_of(MIRI)
    assert result.run.summary.downloaded == len(products) == 6
    assert mast_sim.mast.stats.snapshot().requests.get("path_lookup", 0) == 0
    made = await asyncio.to_thread(mast_sim.mast_files, products)
    assert _on_disk(tmp_path, made) == {f.product.name.filename: f.http_sha256 for f in made}


@pytest.fixture(scope="module")
def stpubdata(sim_config: SimConfig) -> Iterator[S3SimThread]:
    """The simulator's S3 with MAST's cloud products in ``stpubdata``."""
    with S3SimThread(sim_config, bucket="skyhaul-mast-sim", mast_bucket="stpubdata") as s3:
        yield s3


@pytest.fixture
def cloud(stpubdata: S3SimThread, monkeypatch: pytest.MonkeyPatch) -> S3SimThread:
    anonymous_s3(monkeypatch, stpubdata.endpoint)
    stpubdata.stats.reset()
    return stpubdata


async def test_an_auto_import_takes_the_cloud_copy_first(
    mast_sim: SimThread, cloud: S3SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    result = await _import(catalog, mast_sim.mast.server_url, [HST], tmp_path, SourceChoice.AUTO)
    products = mast_sim.mast.products_of(HST)
    assert result.run.summary.downloaded == len(products) == 10
    downloads = mast_sim.mast.stats.snapshot().downloads
    in_cloud = {p.name.data_uri for p in products if p.name.cloud_key}
    assert not in_cloud & set(downloads)  # MAST served only what the cloud has not
    assert set(downloads) == {p.name.data_uri for p in products} - in_cloud
    made = await asyncio.to_thread(mast_sim.mast_files, products)
    # The flt that HTTP corrupts came from S3, right.
    assert _on_disk(tmp_path, made) == {f.product.name.filename: f.sha256 for f in made}


async def test_path_lookups_are_batched(
    mast_sim: SimThread, cloud: S3SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    obs = [NIRCAM_30, NIRCAM_12]
    result = await _import(catalog, mast_sim.mast.server_url, obs, tmp_path, SourceChoice.S3)
    assert mast_sim.mast.stats.snapshot().path_lookup_batches == (PATH_LOOKUP_BATCH, 2)
    skipped = {s.filename for s in result.plan.skipped}
    not_in_cloud = {
        p.name.filename for o in obs for p in mast_sim.mast.products_of(o) if not p.name.cloud_key
    }
    assert skipped == not_in_cloud and skipped
    assert result.run.summary.downloaded == 42 - len(skipped)
    assert mast_sim.mast.stats.snapshot().downloads == {}  # --source s3: nothing from MAST


async def test_an_http_import_catches_the_copy_http_corrupts(
    mast_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    result = await _import(catalog, mast_sim.mast.server_url, [HST], tmp_path, SourceChoice.HTTP)
    (corrupt,) = [p for p in mast_sim.mast.products_of(HST) if p.corrupt_http]
    assert result.run.summary.downloaded == 9
    (failure,) = result.run.summary.failures
    assert failure.error_class == "integrity"
    assert failure.url.endswith(corrupt.name.data_uri)
    assert corrupt.name.filename not in _names(tmp_path)
