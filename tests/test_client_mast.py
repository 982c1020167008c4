"""``skyhaul.Client.mast_*`` and the astroquery drop-in ``skyhaul.mast.download_products``
against a loopback MAST (in a thread): rows, import results, astroquery's layout and
manifest, resuming by calling again, and a loop already running (Jupyter)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from astropy.table import Table
from tests.adapters.mast.fake_mast import (
    MEMBER,
    OBS_A,
    OBS_B,
    FakeMast,
    fake_mast_thread,
    product,
    stock,
)

from skyhaul import Client
from skyhaul.core.jobs import JobKind
from skyhaul.core.model import TransferOptions
from skyhaul.errors import UsageError
from skyhaul.mast import download_products

OPTIONS = TransferOptions(concurrency=4, max_attempts=2, retry_base_delay=0.01)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMast]:
    served = FakeMast()
    stock(served)
    with fake_mast_thread(served) as url:
        monkeypatch.setenv("SKYHAUL_MAST_URL", url)
        yield served


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(catalog=str(tmp_path / "catalog.db"), options=OPTIONS) as opened:
        yield opened


def test_mast_search_returns_rows(client: Client, fake: FakeMast) -> None:
    rows = client.mast_search("NGC 1300", radius=0.1, calib_level=[3], product_type="SCIENCE")
    assert [(r["obs_id"], r["products"], r["instrument"]) for r in rows] == [
        (OBS_A, 2, "NIRCAM/IMAGE")
    ]
    by_id = client.mast_search(obs_id=OBS_B)
    assert [r["obs_id"] for r in by_id] == [OBS_B]
    with pytest.raises(UsageError, match="search by one of"):
        client.mast_search()


def test_mast_import_returns_the_jobs_result(
    client: Client, fake: FakeMast, tmp_path: Path
) -> None:
    result = client.mast_import([OBS_A], source="http", dest=tmp_path / "data")
    assert result is client.last_result
    assert result.run.summary.downloaded == 3 and result.not_done == 0
    job = client.catalog.get_job(result.job_id or 0)
    assert job is not None and job.kind is JobKind.IMPORT
    assert job.params["via"] == "python"
    member = tmp_path / "data" / "JWST" / MEMBER / f"{MEMBER}_cal.fits"
    assert member.read_bytes() == fake.files[f"mast:JWST/product/{MEMBER}_cal.fits"]
    as_json = result.as_json()
    assert (as_json["job"], as_json["downloaded"], as_json["products"]) == (job.id, 3, 3)


def test_mast_import_refuses_bad_input_before_asking(client: Client, fake: FakeMast) -> None:
    with pytest.raises(UsageError, match="source 'ftp' is not one of auto, s3, http"):
        client.mast_import(OBS_A, source="ftp")
    with pytest.raises(UsageError, match="MAST has no observation with obs_id: nope"):
        client.mast_import("nope", source="http")
    assert client.catalog.list_jobs() == []


def test_a_client_call_works_inside_a_running_loop(client: Client, fake: FakeMast) -> None:
    async def notebook_cell() -> list[dict[str, object]]:
        return client.mast_search(obs_id=OBS_A)  # a loop runs in this thread, as in Jupyter

    assert [r["obs_id"] for r in asyncio.run(notebook_cell())] == [OBS_A]


def test_a_cancel_event_stops_an_import_resumably(client: Client, tmp_path: Path) -> None:
    served = FakeMast(latency=0.2)
    stock(served)
    stop = threading.Event()
    with fake_mast_thread(served) as url:
        first = _set_when(stop, lambda: len(served.downloads) >= 1)
        result = client.mast_import(
            [OBS_A, OBS_B], source="http", dest=tmp_path, cancel_event=stop, mast_url=url
        )
        first.join(30)
        assert result.run.summary.interrupted
        assert result.run.summary.downloaded < 4
    assert client.catalog.get_job(result.job_id or 0).state.value == "cancelled"  # type: ignore[union-attr]


def _set_when(event: threading.Event, condition: object) -> threading.Thread:
    """Set ``event`` from another thread once ``condition()`` holds (polled)."""

    def watch() -> None:
        import time

        deadline = time.monotonic() + 30
        while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
            time.sleep(0.01)
        event.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


# --- the astroquery drop-in ------------------------------------------------------------


def _astroquery_table(fake: FakeMast) -> Table:
    """The product table as astroquery's get_product_list returns it (masked columns)."""
    names = list(fake.products[0])
    rows = [[row.get(name) for name in names] for row in fake.products]
    table = Table(rows=rows, names=names, masked=True)
    table["productDocumentationURL"].mask = True  # MAST's nulls arrive masked
    return table


def test_download_products_uses_astroquerys_layout_and_manifest(
    fake: FakeMast, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    manifest = download_products(_astroquery_table(fake), download_dir="dl", source="http")
    assert manifest.colnames == ["Local Path", "Status", "Message", "URL"]
    assert list(manifest["Status"]) == ["COMPLETE"] * 4
    assert list(manifest["Message"]) == [None] * 4
    for row, spec in zip(manifest, fake.products, strict=True):
        expected = f"dl/mastDownload/JWST/{spec['obs_id']}/{spec['productFilename']}"
        assert row["Local Path"] == expected
        assert Path(expected).read_bytes() == fake.files[str(spec["dataURI"])]
        assert row["URL"].endswith(str(spec["dataURI"]))
    assert (tmp_path / "dl" / "skyhaul.db").exists()  # the catalog: a call again resumes
    fake.downloads.clear()
    again = download_products(_astroquery_table(fake), download_dir="dl", source="http")
    assert list(again["Status"]) == ["COMPLETE"] * 4
    assert fake.downloads == []  # verified files are kept, not fetched again


def test_download_products_filters_and_reports_like_astroquery(
    fake: FakeMast, tmp_path: Path
) -> None:
    fake.products.append(product(1002, OBS_B, "../evil.fits", 10))
    rows = [dict(row) for row in fake.products] + [{"productFilename": "no-uri.fits"}]
    science = download_products(rows, tmp_path, source="http", productType="SCIENCE")
    assert [(Path(r["Local Path"]).name, r["Status"]) for r in science] == [
        (f"{OBS_A}_i2d.fits", "COMPLETE"),
        (f"{MEMBER}_cal.fits", "COMPLETE"),
        (f"{OBS_B}_i2d.fits", "COMPLETE"),
        ("", "ERROR"),  # ../evil.fits: refused, the others go on
    ]
    assert "not a single safe name" in science[3]["Message"]
    flat = download_products(rows, tmp_path / "flat", flat=True, source="http", extension="jpg")
    assert [(r["Local Path"], r["Status"]) for r in flat] == [
        (str(tmp_path / "flat" / f"{OBS_A}_i2d.jpg"), "COMPLETE")
    ]
    no_uri = download_products(rows[-1:], tmp_path / "x", source="http")
    assert [(r["Status"], r["Message"]) for r in no_uri] == [("ERROR", "the row has no dataURI")]
    with pytest.raises(UsageError, match="curl_flag is not supported"):
        download_products(rows, tmp_path, curl_flag=True)
    with pytest.raises(UsageError, match="give the product table"):
        download_products("87602009", tmp_path)
