"""``skyhaul mast search|products|import`` against a loopback MAST (in a thread): tables and
JSON, one-line errors with their exit codes, imports as jobs that ``jobs resume`` resumes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.adapters.mast.fake_mast import (
    MEMBER,
    OBS_A,
    OBS_B,
    FakeMast,
    fake_mast_thread,
    product,
    stock,
    stock_many,
)
from tests.cli.conftest import Invoke

from skyhaul import Client
from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.core.model import TransferOptions

MIRI_OBS = "jw01234-o001_t001_miri_f770w"  # stock_many's observation


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMast]:
    """The stocked MAST, served from a thread, in ``SKYHAUL_MAST_URL``."""
    served = FakeMast()
    stock(served)
    with fake_mast_thread(served) as url:
        monkeypatch.setenv("SKYHAUL_MAST_URL", url)
        yield served


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_search_prints_a_table_of_observations(
    skyhaul: Invoke, fake: FakeMast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = skyhaul("mast", "search", "--target", "NGC 1300")
    assert result.exit_code == 0, result.output
    for text in (OBS_A, OBS_B, "NGC-1300", "JWST", "NIRCAM/IMAGE", "2022-08-09 06:00..12:00"):
        assert text in result.stdout
    assert "2 observations" in result.stdout


def test_search_json_is_one_list_of_rows(skyhaul: Invoke, fake: FakeMast) -> None:
    result = skyhaul(
        "mast", "search", "--ra", "49.92", "--dec", "-19.41", "--radius", "1arcmin",
        "--calib-level", "3", "--product-type", "SCIENCE", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["obs_id"], r["products"], r["calib_level"]) for r in rows] == [(OBS_A, 2, 3)]
    assert rows[0]["start"] == "2022-08-09T06:00:00+00:00"
    assert fake.invokes[0]["params"]["position"] == f"49.92, -19.41, {1 / 60}"  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "Nowhere-42"], "MAST could not resolve the name 'Nowhere-42'"),
        ([], "search by one of: a target name, --ra with --dec, or --obs-id"),
        (["--ra", "10"], "--ra and --dec go together"),
        (["--obs-id", "x", "--radius", "3 parsecs"], "radius '3 parsecs' is not an angle"),
        (["--obs-id", "x", "--calib-level", "9"], "calibration level '9' is not one of"),
        (["--obs-id", "x", "--mast-url", "ftp://mast"], "MAST URL 'ftp://mast' is not an http(s)"),
    ],
)
def test_bad_search_input_is_one_line_and_exit_2(
    skyhaul: Invoke, fake: FakeMast, args: list[str], message: str
) -> None:
    result = skyhaul("mast", "search", *args)
    assert result.exit_code == 2
    assert message in _error_line(result.stderr)


def test_an_unreachable_mast_is_one_line_and_exit_1(skyhaul: Invoke, catalog_url: str) -> None:
    result = skyhaul("mast", "search", "--obs-id", "x", "--mast-url", "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert "MAST Mast.Caom.Filtered: cannot connect to" in _error_line(result.stderr)


def test_a_mast_error_is_one_line_and_exit_1(skyhaul: Invoke, fake: FakeMast) -> None:
    fake.error = "Request timed out\nplease retry"
    result = skyhaul("mast", "search", "--obs-id", OBS_A)
    assert result.exit_code == 1
    assert _error_line(result.stderr) == (
        "skyhaul: error: MAST Mast.Caom.Filtered: Request timed out please retry"
    )


def test_products_lists_sizes_and_cloud(
    skyhaul: Invoke, fake: FakeMast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = skyhaul("mast", "products", OBS_A)
    assert result.exit_code == 0, result.output
    assert f"{MEMBER}_cal.fits" in result.stdout
    assert "3 products" in result.stdout and "2 in the cloud" in result.stdout
    listed = json.loads(skyhaul("mast", "products", OBS_A, "--json").stdout)
    cloud = {row["filename"]: row["in_cloud"] for row in listed}
    assert cloud == {
        f"{OBS_A}_i2d.fits": True,
        f"{MEMBER}_cal.fits": True,
        f"{OBS_A}_i2d.jpg": False,
    }
    science = json.loads(
        skyhaul("mast", "products", OBS_A, "--product-type", "preview", "--json").stdout
    )
    assert [row["filename"] for row in science] == [f"{OBS_A}_i2d.jpg"]
    assert science[0]["url"].endswith(
        "/api/v0.1/Download/file?uri=mast:JWST/product/" + f"{OBS_A}_i2d.jpg"
    )


def test_import_over_http_downloads_every_product_as_a_job(
    skyhaul: Invoke, fake: FakeMast, tmp_path: Path, catalog_url: str
) -> None:
    result = skyhaul(
        "mast", "import", OBS_A, OBS_B, "--source", "http", "-d", "out", "--json", "--no-progress"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["downloaded"], summary["products"]) == (4, 4)
    assert summary["skipped"] == summary["refused"] == []
    assert fake.lookups == []
    for row in fake.products:
        target = tmp_path / "out" / "JWST" / str(row["obs_id"]) / str(row["productFilename"])
        assert target.read_bytes() == fake.files[str(row["dataURI"])]
    with open_catalog(catalog_url) as catalog:
        job = catalog.get_job(summary["job"])
    assert job is not None and (job.kind, job.state) == (JobKind.IMPORT, JobState.SUCCEEDED)
    assert job.params["mast"]["obs_ids"] == [OBS_A, OBS_B]
    assert job.params["mast"]["source"] == "http"


def test_import_of_an_unknown_obs_id_registers_nothing(
    skyhaul: Invoke, fake: FakeMast, catalog_url: str
) -> None:
    result = skyhaul("mast", "import", OBS_A, "jw99999-nope", "--source", "http")
    assert result.exit_code == 2
    assert "MAST has no observation with obs_id: jw99999-nope" in _error_line(result.stderr)
    assert fake.downloads == []
    with open_catalog(catalog_url) as catalog:
        assert catalog.list_jobs() == []
        assert catalog.count_files() == 0


def test_a_refused_product_fails_the_import_but_not_the_others(
    skyhaul: Invoke, fake: FakeMast, tmp_path: Path
) -> None:
    fake.products.append(product(1002, OBS_B, "../../escape.fits", 10))
    result = skyhaul("mast", "import", OBS_B, "--source", "http", "-d", "out", "--no-progress")
    assert result.exit_code == 1
    assert "1 downloaded" in result.stdout
    assert "1 product refused:" in result.stdout
    assert "../../escape.fits" in result.stdout
    assert (tmp_path / "out" / "JWST" / OBS_B / f"{OBS_B}_i2d.fits").exists()
    assert not (tmp_path / "escape.fits").exists()


def test_an_import_of_no_products_says_so(skyhaul: Invoke, fake: FakeMast) -> None:
    result = skyhaul("mast", "import", OBS_B, "--product-type", "PREVIEW", "--source", "http")
    assert result.exit_code == 0
    assert "no products of type PREVIEW to import" in result.stderr
    assert "0 downloaded" in result.stdout


def test_bad_import_options_are_one_line_and_exit_2(skyhaul: Invoke, fake: FakeMast) -> None:
    bad_source = skyhaul("mast", "import", OBS_A, "--source", "ftp")
    assert bad_source.exit_code == 2
    bad_url = skyhaul("mast", "import", OBS_A, "--mast-url", "mast.stsci.edu")
    assert bad_url.exit_code == 2
    assert "is not an http(s) URL" in _error_line(bad_url.stderr)
    assert fake.invokes == []


def test_a_cancelled_import_resumes_with_jobs_resume(
    skyhaul: Invoke, tmp_path: Path, catalog_url: str
) -> None:
    served = FakeMast(latency=0.05)
    stock_many(served, 8)
    stop = threading.Event()
    with fake_mast_thread(served) as url:
        watcher = threading.Thread(target=_set_after_downloads, args=(served, 2, stop))
        watcher.start()
        with Client(catalog=catalog_url, options=TransferOptions(concurrency=1)) as client:
            result = client.mast_import(
                MIRI_OBS, source="http", dest=tmp_path / "out", cancel_event=stop, mast_url=url
            )
        watcher.join(30)
        assert result.run.summary.interrupted and result.run.summary.downloaded < 8
        served.latency = 0.0
        again = skyhaul("jobs", "resume", str(result.job_id), "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["job"] == result.job_id
    with open_catalog(catalog_url) as catalog:
        job = catalog.get_job(result.job_id or 0)
        assert job is not None and (job.kind, job.state) == (JobKind.IMPORT, JobState.SUCCEEDED)
    assert len(list((tmp_path / "out" / "JWST").rglob("*.fits"))) == 8


def _set_after_downloads(served: FakeMast, count: int, stop: threading.Event) -> None:
    deadline = time.monotonic() + 30
    while len(served.downloads) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
