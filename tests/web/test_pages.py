"""The pages: each renders its key elements, escapes what comes from outside, and the
login form guards them when the server has a token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.jobprogress import InFlightFile, JobProgress
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.core.model import FileSpec
from skyhaul.core.packages import PackageEvent, RawFileSpec, plan_packages
from skyhaul.core.sites import LocationType
from skyhaul.web.app import create_app
from skyhaul.web.auth import SESSION_COOKIE, session_value
from skyhaul.web.pages import local_path
from skyhaul.web.settings import WebSettings

NOW = datetime.now(UTC)  # the pages recover jobs whose lease expired by the clock
TOKEN = "s3cret-token"
CSRF = "csrf-value-for-tests"
NAV = ('href="/jobs"', 'href="/files"', 'href="/backfill"', 'href="/mast"', 'href="/packages"')
HOSTILE = "<script>alert(1)</script>.fits"


@pytest.fixture
def catalog(tmp_path: Path) -> AsyncIterator[Catalog]:
    opened = open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield opened  # type: ignore[misc]
    opened.close()


@pytest.fixture
def jobs(catalog: Catalog) -> dict[str, int]:
    """A running job (published by another process), a failed one and a queued one."""
    running = catalog.create_job(JobKind.GET, {"urls": ["https://a.example/x"]}, now=NOW)
    catalog.register(
        [
            FileSpec(url="https://a.example/x", path="x.fits", size=2048),
            FileSpec(url="https://a.example/y", path=HOSTILE, size=10),
        ],
        "/data",
        now=NOW,
        job_id=running,
    )
    assert catalog.start_job(running, "host:1", now=NOW, lease_seconds=3600)
    progress = JobProgress(
        files_done=1,
        files_total=2,
        bytes_done=1024,
        bytes_total=2048,
        speed=1536.0,
        eta=65.0,
        in_flight=(InFlightFile("x.fits", 512, 1024, 512.0, "s3"),),
    )
    catalog.publish_job_progress(running, "host:1", progress, now=NOW, lease_seconds=3600)
    failed = catalog.create_job(JobKind.BACKFILL, {"source": "hk"}, now=NOW)
    catalog.start_job(failed, "host:1", now=NOW, lease_seconds=3600)
    catalog.finish_job(failed, "host:1", JobState.FAILED, now=NOW, summary={"days": 3})
    queued = catalog.create_job(JobKind.DOWNLOAD, {}, now=NOW)
    return {"running": running, "failed": failed, "queued": queued}


def _settings(tmp_path: Path, token: str | None = None) -> WebSettings:
    return WebSettings(token=token, dest_root=tmp_path / "data")


@pytest.fixture
async def client(
    catalog: Catalog, jobs: dict[str, int], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(_settings(tmp_path), catalog=catalog)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture
async def guarded(catalog: Catalog, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a server with a token."""
    app = create_app(_settings(tmp_path, TOKEN), catalog=catalog)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def _assert_page(answer: httpx.Response, *elements: str) -> str:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert re.search(r'<meta name="csrf-token" content="[^"]{20,}">', html)
    for link in NAV:
        assert link in html
    for element in elements:
        assert element in html, element
    return html


async def test_home_is_the_jobs_page(client: httpx.AsyncClient) -> None:
    answer = await client.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/jobs"


async def test_jobs_page_lists_every_job_with_its_progress(
    client: httpx.AsyncClient, jobs: dict[str, int]
) -> None:
    html = _assert_page(await client.get("/jobs"), 'table id="jobs"', "/static/jobs.js")
    running = _row(html, "tr", f'data-job-id="{jobs["running"]}"')
    assert 'class="kind"' in running
    assert ">running<" in running
    assert 'data-percent="50"' in running
    assert ">1/2<" in running
    assert "1.0 KiB / 2.0 KiB" in running
    assert "1.5 KiB/s" in running
    assert "1m 05s" in running
    assert f'href="/jobs/{jobs["running"]}"' in running
    assert 'class="cancel' in running and 'class="resume' not in running
    failed = _row(html, "tr", f'data-job-id="{jobs["failed"]}"')
    assert ">failed<" in failed and 'class="resume' in failed and 'class="cancel' not in failed
    assert 'class="cancel' in _row(html, "tr", f'data-job-id="{jobs["queued"]}"')


async def test_job_page_shows_progress_files_and_chart(
    client: httpx.AsyncClient, jobs: dict[str, int]
) -> None:
    html = _assert_page(
        await client.get(f"/jobs/{jobs['running']}"),
        'id="job-state"',
        'canvas id="throughput"',
        'table id="in-flight"',
        'table id="recent-files"',
        'id="summary"',
        'button type="button" id="cancel"',
        'id="resume"',
        "/static/job.js",
    )
    assert re.search(r'id="job-percent"[^>]*>50%<', html)
    assert re.search(r'id="files-done">1<', html) and re.search(r'id="files-total">2<', html)
    assert re.search(r'id="speed">1.5 KiB/s<', html) and re.search(r'id="eta">1m 05s<', html)
    assert 'data-transport="' in html
    assert "s3" in _row(html, "table", 'id="in-flight"')


async def test_finished_job_page_shows_its_summary(
    client: httpx.AsyncClient, jobs: dict[str, int]
) -> None:
    html = _assert_page(await client.get(f"/jobs/{jobs['failed']}"))
    assert 'id="summary-panel" hidden' not in html
    assert "<dt>days</dt><dd>3</dd>" in html
    assert re.search(r'id="cancel"[^>]*hidden', html)


async def test_job_page_of_an_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    answer = await client.get("/jobs/999")
    assert answer.status_code == 404
    assert "no job 999" in answer.text
    bad = await client.get("/jobs/nope")
    assert bad.status_code == 400


async def test_files_page_shows_totals_and_escapes_names(client: httpx.AsyncClient) -> None:
    html = _assert_page(
        await client.get("/files"),
        'id="state-totals"',
        'form id="filters"',
        'table id="files"',
        'id="retry"',
        'id="ignore"',
        "/static/files.js",
    )
    totals = _row(html, "div", 'id="state-totals"')
    assert re.search(
        r'data-state="DISCOVERED"[^>]*>\s*<span class="label">DISCOVERED</span>'
        r'\s*<span class="count">2</span>',
        totals,
    )
    assert html.count("data-file-id=") == 2
    assert HOSTILE not in html  # the file name is text, never markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.fits" in html
    for name in ("instrument", "source", "obs_start", "obs_end", "downlink_start", "where"):
        assert f'name="{name}"' in html


async def test_filtered_files_page_leaves_the_rows_to_the_script(
    client: httpx.AsyncClient,
) -> None:
    html = _assert_page(await client.get("/files?state=FAILED"))
    assert "data-file-id=" not in html


async def test_backfill_and_mast_pages(client: httpx.AsyncClient, tmp_path: Path) -> None:
    _assert_page(
        await client.get("/backfill"),
        'table id="days"',
        'id="availability"',
        'id="availability-percent"',
        "/static/backfill.js",
    )
    html = _assert_page(
        await client.get("/mast"),
        'form id="mast-search"',
        'table id="results"',
        'table id="products"',
        "/static/mast.js",
    )
    for name in ("target", "ra", "dec", "radius", "obs_id", "mission", "instrument"):
        assert f'name="{name}"' in html
    assert str(tmp_path / "data") in html


async def test_static_files_are_served(client: httpx.AsyncClient) -> None:
    for name in ("style.css", "live.js", "api.js", "jobs.js", "job.js", "chart.js"):
        answer = await client.get(f"/static/{name}")
        assert answer.status_code == 200, name
    assert "X-CSRF-Token" in (await client.get("/static/api.js")).text


async def test_without_a_token_login_goes_to_the_jobs(client: httpx.AsyncClient) -> None:
    answer = await client.get("/login")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/jobs"


async def test_pages_need_the_login_when_a_token_is_set(guarded: httpx.AsyncClient) -> None:
    answer = await guarded.get("/files?state=FAILED")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/files"
    form = await guarded.get("/login?next=/files")
    assert form.status_code == 200
    assert 'name="token"' in form.text and 'value="/files"' in form.text


async def test_wrong_token_is_refused(guarded: httpx.AsyncClient) -> None:
    answer = await guarded.post("/login", content=b"token=nope&next=%2Ffiles", headers=_FORM)
    assert answer.status_code == 401
    assert "Wrong token" in answer.text
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    assert (await guarded.get("/jobs")).status_code == 303


async def test_right_token_sets_the_session_and_goes_on(guarded: httpx.AsyncClient) -> None:
    answer = await guarded.post(
        "/login", content=f"token={TOKEN}&next=%2Ffiles%3Fstate%3DFAILED".encode(), headers=_FORM
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/files?state=FAILED"
    cookie = answer.headers["set-cookie"]
    assert f"{SESSION_COOKIE}={session_value(TOKEN)}" in cookie
    assert TOKEN not in cookie
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/" in lowered
    assert (await guarded.get("/jobs")).status_code == 200  # the client keeps the cookie
    out = await guarded.get("/logout")
    assert out.status_code == 303
    assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
    assert (await guarded.get("/jobs")).status_code == 303


@pytest.mark.parametrize(
    "wanted", ["https://evil.example/", "//evil.example/", "/\\evil.example", "jobs", ""]
)
async def test_login_never_sends_to_another_site(guarded: httpx.AsyncClient, wanted: str) -> None:
    answer = await guarded.post(
        "/login", params={"next": wanted}, content=f"token={TOKEN}".encode(), headers=_FORM
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/jobs"


async def test_login_from_another_site_is_refused(guarded: httpx.AsyncClient) -> None:
    answer = await guarded.post(
        "/login",
        content=f"token={TOKEN}".encode(),
        headers={**_FORM, "Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers


def test_local_path_keeps_only_paths_of_this_server() -> None:
    assert local_path("/jobs/3?x=1") == "/jobs/3?x=1"
    assert local_path("/files\r\nSet-Cookie: x=1") == "/jobs"


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _row(html: str, tag: str, marker: str) -> str:
    """The element ``<tag ... marker ...>...</tag>`` (the first one) of ``html``."""
    start = html.index(marker)
    start = html.rindex(f"<{tag}", 0, start)
    return html[start : html.index(f"</{tag}>", start)]


async def test_packages_page_shows_locations_and_packages(
    catalog: Catalog, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    catalog.add_site("obs", now=NOW)
    source = catalog.add_location(
        "obs", "src", LocationType.SOURCE, (tmp_path / "src").as_uri(), now=NOW
    )
    catalog.register_raw_files(
        source.id, [RawFileSpec("u1/m1/a.dat", 3, "a" * 64, "u1", "m1")], now=NOW
    )
    [file] = catalog.unpackaged_files(source.id)
    catalog.record_copy(
        source.id, file.path, file_id=file.id, sha256="a" * 64, verified_at=NOW, now=NOW
    )
    [plan] = plan_packages([file], 100)
    package = catalog.create_package(plan, source_location=source.id, now=NOW)
    assert package is not None
    catalog.set_package_state(package.id, PackageEvent.FAILED, now=NOW, error=HOSTILE)
    html = _assert_page(
        await client.get("/packages"),
        'href="/packages" class="active"',
        'table id="locations"',
        'table id="packages"',
        'id="state-filter"',
        "/static/packages.js",
    )
    row = _row(html, "tr", 'data-location="obs/src"')
    assert re.search(r'data-status="PRESENT">1<', row)
    package_row = _row(html, "tr", f'data-package-id="{package.id}"')
    assert 'class="badge state-FAILED"' in package_row
    assert HOSTILE not in html and "&lt;script&gt;" in package_row
