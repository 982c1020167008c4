"""Importing MAST observations (services.mast_import) against a loopback MAST: the plan (one
file per product, sources per --source, rows refused alone, nothing registered for an unknown
obs_id), and whole imports run as ``import`` jobs over HTTP and over S3 (moto)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from tests.adapters.mast.fake_mast import MEMBER, OBS_A, OBS_B, FakeMast, product, stock
from tests.adapters.mast.fixtures import StartMast, anonymous_s3, fake, mast, sleeps

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.mast import Observation, Product
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import Selection, TransferOptions
from skyhaul.errors import UsageError
from skyhaul.services.mast_import import (
    ImportResult,
    SourceChoice,
    plan_files,
    plan_import,
    prepare_import,
)
from skyhaul.services.mast_products import ProductEntry
from skyhaul.sim.archive import ArchiveSpec, SizeBand
from skyhaul.sim.config import SimConfig
from skyhaul.sim.s3 import SIM_CREDENTIALS, SIM_REGION
from skyhaul.sim.s3_thread import S3SimThread

__all__ = ["fake", "mast", "sleeps"]  # the fixtures

OPTIONS = TransferOptions(concurrency=4, max_attempts=2, retry_base_delay=0.01)


def _url(uri: str) -> str:
    return "http://mast.test/api/v0.1/Download/file?uri=" + uri


def _entry(
    filename: str, key: str | None = None, size: int = 2880, **columns: object
) -> ProductEntry:
    row = product(7, "obs-7", filename, size, **columns)
    found = Product.from_row(row)
    assert found is not None
    seen = Observation.from_row(
        {
            "obsid": "7",
            "obs_id": "obs-7",
            "instrument_name": "NIRSPEC/IFU",
            "t_min": 60000.0,
            "t_max": 60000.5,
            "obs_collection": "JWST",
            "target_name": "X",
        }
    )
    return ProductEntry(found, seen, key)


def test_auto_fetches_cloud_products_from_s3_first_with_mast_as_mirror() -> None:
    plan = plan_files(
        [_entry("a.fits", "jwst/public/a.fits"), _entry("b.fits")], SourceChoice.AUTO, _url
    )
    cloud, other = plan.specs
    assert cloud.urls == ("s3://stpubdata/jwst/public/a.fits", _url("mast:JWST/product/a.fits"))
    assert other.urls == (_url("mast:JWST/product/b.fits"),)
    assert (cloud.path, cloud.size, cloud.source) == ("JWST/obs-7/a.fits", 2880, "mast")
    assert cloud.instrument == "NIRSPEC/IFU"
    assert (
        cloud.obs_start is not None and cloud.obs_start.isoformat() == "2023-02-25T00:00:00+00:00"
    )
    assert cloud.obs_end is not None and cloud.obs_end.isoformat() == "2023-02-25T12:00:00+00:00"
    origin = json.loads(cloud.origin or "")
    assert origin["observation"]["instrument_name"] == "NIRSPEC/IFU"
    assert origin["product"]["productFilename"] == "a.fits"
    assert plan.skipped == plan.refused == ()


def test_s3_skips_what_is_not_in_the_cloud_and_http_never_uses_it() -> None:
    entries = [_entry("a.fits", "jwst/public/a.fits"), _entry("b.fits")]
    s3 = plan_files(entries, SourceChoice.S3, _url)
    assert [s.urls for s in s3.specs] == [("s3://stpubdata/jwst/public/a.fits",)]
    assert [(s.filename, s.reason) for s in s3.skipped] == [
        ("b.fits", "not in the cloud (--source s3)")
    ]
    http = plan_files(entries, SourceChoice.HTTP, _url)
    assert [s.urls for s in http.specs] == [
        (_url("mast:JWST/product/a.fits"),),
        (_url("mast:JWST/product/b.fits"),),
    ]


@pytest.mark.parametrize(
    "name",
    [
        "../escape.fits",
        "sub/dir.fits",
        "..",
        "back\\slash.fits",
        "x.fits.skyhaul.part",
        "tab\tname.fits",
    ],
)
def test_a_bad_file_name_is_refused_alone(name: str) -> None:
    entries = [
        _entry("good.fits"),
        _entry(name, dataURI="mast:JWST/product/bad"),
        _entry("next.fits"),
    ]
    plan = plan_files(entries, SourceChoice.HTTP, _url)
    assert [s.path for s in plan.specs] == ["JWST/obs-7/good.fits", "JWST/obs-7/next.fits"]
    (refused,) = plan.refused
    assert refused.data_uri == "mast:JWST/product/bad"
    assert refused.reason


def test_two_products_for_one_destination_keep_the_first() -> None:
    entries = [_entry("a.fits"), _entry("a.fits", dataURI="mast:JWST/product/other/a.fits")]
    plan = plan_files(entries, SourceChoice.HTTP, _url)
    assert len(plan.specs) == 1
    assert plan.refused[0].reason == "'JWST/obs-7/a.fits' is taken by mast:JWST/product/a.fits"


def test_a_zero_size_is_unknown_and_a_missing_name_comes_from_the_uri() -> None:
    plan = plan_files(
        [_entry("", size=0, dataURI="mast:JWST/product/z.fits")], SourceChoice.HTTP, _url
    )
    (spec,) = plan.specs
    assert (spec.path, spec.size) == ("JWST/obs-7/z.fits", None)


async def test_planning_an_import(fake: FakeMast, mast: StartMast) -> None:
    stock(fake)
    plan = await plan_import(await mast(), [OBS_A, OBS_B], product_type="SCIENCE")
    assert sorted(s.path for s in plan.specs) == sorted(
        [
            f"JWST/{OBS_A}/{OBS_A}_i2d.fits",
            f"JWST/{MEMBER}/{MEMBER}_cal.fits",
            f"JWST/{OBS_B}/{OBS_B}_i2d.fits",
        ]
    )
    assert fake.services() == ["Mast.Caom.Filtered", "Mast.Caom.Products"]
    assert [len(batch) for batch in fake.lookups] == [3]  # one request for every product
    member = next(s for s in plan.specs if MEMBER in s.path)
    assert member.urls[0] == f"s3://stpubdata/jwst/public/jw02727/L3/t/{MEMBER}_cal.fits"
    assert member.instrument == "NIRCAM/IMAGE"  # from the observation it was listed for


async def test_obs_ids_match_in_any_letter_case(fake: FakeMast, mast: StartMast) -> None:
    stock(fake)
    plan = await plan_import(await mast(), [OBS_B.upper()], source=SourceChoice.HTTP)
    assert [s.path for s in plan.specs] == [f"JWST/{OBS_B}/{OBS_B}_i2d.fits"]


async def test_an_http_import_looks_nothing_up(fake: FakeMast, mast: StartMast) -> None:
    stock(fake)
    plan = await plan_import(await mast(), [OBS_A], source=SourceChoice.HTTP)
    assert len(plan.specs) == 3
    assert fake.lookups == []


async def test_an_unknown_obs_id_plans_nothing(fake: FakeMast, mast: StartMast) -> None:
    stock(fake)
    with pytest.raises(UsageError, match=r"^MAST has no observation with obs_id: jw99999-nope$"):
        await plan_import(await mast(), [OBS_A, "jw99999-nope"])
    assert "Mast.Caom.Products" not in fake.services()
    assert fake.lookups == []


async def _import(
    catalog: Catalog, plan_source: SourceChoice, client_mast: StartMast, dest: Path, obs: list[str]
) -> ImportResult:
    plan = await plan_import(await client_mast(), obs, source=plan_source)
    run, _ = prepare_import(catalog, plan, str(dest), OPTIONS, params={"mast": {"obs_ids": obs}})
    return ImportResult(await run.run(asyncio.Event()), plan)


async def test_an_import_over_http_is_a_job_of_its_files(
    fake: FakeMast, mast: StartMast, catalog: Catalog, tmp_path: Path
) -> None:
    stock(fake)
    fake.fail_downloads = 1  # one 503 on the way: retried
    result = await _import(catalog, SourceChoice.HTTP, mast, tmp_path, [OBS_A, OBS_B])
    assert result.run.summary.downloaded == 4
    assert result.not_done == 0
    for uri, body in fake.files.items():
        row = next(p for p in fake.products if p["dataURI"] == uri)
        target = tmp_path / "JWST" / str(row["obs_id"]) / str(row["productFilename"])
        assert target.read_bytes() == body
    job = catalog.get_job(result.job_id or 0)
    assert job is not None
    assert (job.kind, job.state) == (JobKind.IMPORT, JobState.SUCCEEDED)
    assert job.params["mast"] == {"obs_ids": [OBS_A, OBS_B]}
    assert job.params["options"]["fits_metadata"] is True
    assert (job.params["skipped"], job.params["refused"]) == (0, 0)
    records = catalog.list_files(Selection(ids=tuple(catalog.job_file_ids(job.id))))
    assert {r.source for r in records} == {"mast"}
    assert {r.instrument for r in records} == {"NIRCAM/IMAGE"}
    for record in records:
        stored = catalog.file_headers(record.id)
        assert stored is not None and stored.origin is not None
        origin = json.loads(stored.origin)
        assert record.url.endswith(origin["product"]["dataURI"])
        assert origin["observation"]["obs_id"] in (OBS_A, OBS_B)
        assert stored.headers is not None  # every file is FITS (the preview too)


async def test_a_fits_file_corrupted_on_the_way_is_not_downloaded(
    fake: FakeMast, mast: StartMast, catalog: Catalog, tmp_path: Path
) -> None:
    stock(fake)
    bad = f"mast:JWST/product/{OBS_B}_i2d.fits"
    fake.corrupt.add(bad)  # same size: only the FITS check can tell
    result = await _import(catalog, SourceChoice.HTTP, mast, tmp_path, [OBS_B])
    assert result.run.summary.downloaded == 0
    assert result.not_done == 1
    (failure,) = result.run.summary.failures
    assert failure.error_class == "integrity"
    assert not (tmp_path / "JWST" / OBS_B / f"{OBS_B}_i2d.fits").exists()


# --- over S3 ------------------------------------------------------------------------------

#: The S3 simulator's own archive is one small blob; the MAST files are put beside it.
_TINY = ArchiveSpec(seed=5, count=1, sizes=(SizeBand(1024, 1024, 1.0),), kind="blob")


@pytest.fixture(scope="module")
def stpubdata(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3SimThread]:
    """MAST's public bucket on the S3 simulator (moto behind its proxy)."""
    config = SimConfig(archive=_TINY, root=tmp_path_factory.mktemp("stpubdata"))
    with S3SimThread(config, bucket="stpubdata") as running:
        yield running


@pytest.fixture
def cloud(stpubdata: S3SimThread, monkeypatch: pytest.MonkeyPatch) -> S3SimThread:
    """The bucket, with the AWS environment pointing at it (unsigned)."""
    anonymous_s3(monkeypatch, stpubdata.endpoint)
    stpubdata.stats.reset()
    return stpubdata


def upload(cloud: S3SimThread, fake: FakeMast) -> None:
    """Put the fake's cloud files in the bucket under their keys."""
    client = boto3.client(
        "s3",
        endpoint_url=cloud.moto_endpoint,
        region_name=SIM_REGION,
        aws_access_key_id=SIM_CREDENTIALS[0],
        aws_secret_access_key=SIM_CREDENTIALS[1],
    )
    for uri, path in fake.cloud.items():
        client.put_object(
            Bucket=cloud.bucket, Key=path.lstrip("/"), Body=fake.files[uri], ACL="public-read"
        )


async def test_an_auto_import_takes_cloud_products_from_s3(
    fake: FakeMast, mast: StartMast, catalog: Catalog, tmp_path: Path, cloud: S3SimThread
) -> None:
    stock(fake)
    upload(cloud, fake)
    result = await _import(catalog, SourceChoice.AUTO, mast, tmp_path, [OBS_A, OBS_B])
    assert result.run.summary.downloaded == 4
    # MAST served only what is not in the cloud; S3 served the rest.
    assert sorted(fake.downloads) == sorted(u for u in fake.files if u not in fake.cloud)
    assert cloud.stats.snapshot().by_method.get("GET", 0) >= len(fake.cloud)
    for uri, path in fake.cloud.items():
        row = next(p for p in fake.products if p["dataURI"] == uri)
        target = tmp_path / "JWST" / str(row["obs_id"]) / str(row["productFilename"])
        assert target.read_bytes() == fake.files[uri], path


async def test_an_s3_import_skips_the_rest(
    fake: FakeMast, mast: StartMast, catalog: Catalog, tmp_path: Path, cloud: S3SimThread
) -> None:
    stock(fake)
    upload(cloud, fake)
    result = await _import(catalog, SourceChoice.S3, mast, tmp_path, [OBS_A, OBS_B])
    assert result.run.summary.downloaded == len(fake.cloud) == 2
    assert fake.downloads == []
    assert {s.filename for s in result.plan.skipped} == {f"{OBS_A}_i2d.jpg", f"{OBS_B}_i2d.fits"}
    assert result.not_done == 0
    assert result.as_json()["skipped"] == [s.as_json() for s in result.plan.skipped]


async def test_a_product_missing_from_s3_comes_from_mast(
    fake: FakeMast, mast: StartMast, catalog: Catalog, tmp_path: Path, cloud: S3SimThread
) -> None:
    stock(fake)
    # Listed in the cloud, but never uploaded: the mirror serves it.
    fake.cloud = {u: f"/jwst/public/missing/{i}.fits" for i, u in enumerate(fake.cloud)}
    result = await _import(catalog, SourceChoice.AUTO, mast, tmp_path, [OBS_A])
    assert result.run.summary.downloaded == 3
    assert sorted(fake.downloads) == sorted(u for u in fake.files if OBS_B not in u)
    states = catalog.job_file_states(result.job_id or 0)
    assert states == {FileState.DOWNLOADED: 3}
