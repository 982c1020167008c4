"""The pages in real headless Chromium against a real ``skyhaul serve`` and the simulator:
an import started from the MAST page followed to 100%, a running job cancelled from the
jobs page, the job page on polling alone, and a job another process runs followed live.

Downloads are slowed by the simulator's bandwidth knob, so that progress can be watched.
One Chromium per session, one simulator (``tests.web.mast_fixtures``) and one server per
module, a page per test; the tests run on the session's event loop, the one the browser
lives on.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from itertools import pairwise
from time import monotonic
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from tests.web.browser import (
    VIEWPORT,
    WebServer,
    launch_chromium,
    parse_size,
    require_browser,
    server_environment,
    skyhaul_command,
    start_server,
    wait_until,
)
from tests.web.mast_fixtures import mast_sim, module_mast_sim

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.jobs import JobRecord, JobState
from skyhaul.sim.thread import SimThread

try:
    from playwright.async_api import expect
except ImportError:  # the browser fixture skips (or fails under CI=true) with the reason
    expect = None

if TYPE_CHECKING:
    from playwright.async_api import Browser, Locator, Page, Request, Route

__all__ = ["mast_sim", "module_mast_sim"]  # the simulator's fixtures, used by name

pytestmark = pytest.mark.asyncio(loop_scope="session")

# One observation per test: the server keeps one catalog and one destination per module.
MIRI = "jw01177-o007_t004_miri_f1280w"  # 6 products, 339 KiB
NIRSPEC = "jw01366-o004_t001_nirspec_clear-prism"  # 8 products, 657 KiB
WFC3 = "JDBA02020"  # 7 products, 453 KiB
NIRCAM = "jw02739-o001_t001_nircam_clear-f090w"  # 12 products, 1.7 MiB
KIB = 1024


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium (skipped, or failed under CI=true, when missing)."""
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await launch_chromium(playwright)
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
def web(
    module_mast_sim: SimThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebServer]:
    """``skyhaul serve`` on a free port, its own SQLite catalog, MAST from the simulator."""
    workdir = tmp_path_factory.mktemp("serve")
    mast_url = module_mast_sim.mast.server_url
    server = start_server(workdir, f"sqlite:///{workdir / 'catalog.db'}", mast_url)
    yield server
    server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A new page at 1280x800 in its own context; confirmation dialogs are accepted."""
    context = await browser.new_context(viewport=VIEWPORT)
    opened = await context.new_page()
    opened.on("dialog", lambda dialog: dialog.accept())
    yield opened
    await context.close()


def _job(web: WebServer, job_id: int) -> JobRecord:
    with open_catalog(web.catalog_url) as catalog:
        job = catalog.get_job(job_id)
    assert job is not None
    return job


async def _watch(
    read: Callable[[], Awaitable[str | None]], ended: Callable[[], Awaitable[bool]], what: str
) -> list[str]:
    """Every different value ``read`` gives, in order, until ``ended`` (30 s at most); the
    last is read after ``ended`` held."""
    seen: list[str] = []

    async def step() -> bool:
        over = await ended()
        value = await read()
        if value is not None and (not seen or seen[-1] != value):
            seen.append(value)
        return over

    try:
        await wait_until(step, 30, what)
    except AssertionError as error:
        raise AssertionError(f"{error}; seen {seen}") from None
    return seen


async def _check_numbers(page: Page, web: WebServer, job_id: int) -> None:
    """The job page shows the catalog's files and bytes."""
    progress = _job(web, job_id).progress
    assert progress is not None
    await expect(page.locator("#files-done")).to_have_text(str(progress.files_done))
    await expect(page.locator("#files-total")).to_have_text(str(progress.files_total))
    for selector, exact in (
        ("#bytes-done", progress.bytes_done),
        ("#bytes-total", progress.bytes_total),
    ):
        shown, slack = parse_size(await page.locator(selector).inner_text())
        assert exact is not None and abs(shown - exact) <= slack, (selector, shown, exact)


async def test_an_import_from_the_mast_page_reaches_100_percent(
    page: Page, web: WebServer, mast_sim: SimThread
) -> None:
    mast_sim.set_faults(bandwidth=128 * KIB)
    await page.goto(web.url + "mast")
    await page.locator("#mast-search [name=obs_id]").fill(MIRI)
    await page.locator("#mast-search select[name=source]").select_option("http")
    await page.locator("#mast-search [type=submit]").click()
    await page.locator(f'#results tr[data-obs-id="{MIRI}"] button.import').click()
    await page.wait_for_url(re.compile(r"/jobs/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])

    percents = await _watch(
        lambda: page.locator("#job-percent").inner_text(timeout=5000),
        lambda: _has_text(page, "#job-state", "succeeded"),
        f"job {job_id} to succeed on its page",
    )
    await expect(page.locator("#job-percent")).to_have_text("100%")
    assert len(percents) >= 2 and percents[-1] == "100%", percents  # seen live, not at the end
    await expect(page.locator("body")).to_have_attribute("data-transport", "sse")
    products = mast_sim.mast.products_of(MIRI)
    job = _job(web, job_id)
    assert job.state is JobState.SUCCEEDED and job.progress is not None
    assert (job.progress.files_done, job.progress.files_total) == (len(products), len(products))
    assert job.progress.bytes_done == job.progress.bytes_total == sum(p.size for p in products)
    await _check_numbers(page, web, job_id)


async def test_cancel_from_the_jobs_page_stops_the_job(
    page: Page, web: WebServer, mast_sim: SimThread
) -> None:
    mast_sim.set_faults(bandwidth=16 * KIB)  # about 40 s: it runs until cancelled
    job_id = web.start_import(NIRSPEC)
    await page.goto(web.url + "jobs")
    row = page.locator(f'#jobs tr[data-job-id="{job_id}"]')
    await expect(row.locator("td.state")).to_have_text("running", timeout=10_000)
    await wait_until(lambda: _bytes_done(web, job_id) > 0, 10, "bytes to move")

    await row.locator("button.cancel").click()
    await expect(row.locator("td.state")).to_have_text("cancelled", timeout=10_000)
    await expect(row.locator("button.resume")).to_be_visible()
    await expect(row.locator("button.cancel")).to_have_count(0)
    job = _job(web, job_id)
    assert job.state is JobState.CANCELLED and job.progress is not None
    assert job.progress.files_done < job.progress.files_total
    assert web.get(f"api/jobs/{job_id}")["live"] is False  # the server runs it no more


async def test_the_job_page_follows_by_polling_when_events_are_blocked(
    page: Page, web: WebServer, mast_sim: SimThread
) -> None:
    refused: list[str] = []

    async def refuse(route: Route) -> None:
        refused.append(route.request.url)
        await route.abort()

    await page.route("**/events*", refuse)
    mast_sim.set_faults(bandwidth=128 * KIB)
    job_id = web.start_import(WFC3)
    polls: list[float] = []

    def count_poll(request: Request) -> None:
        if request.url.endswith(f"/api/jobs/{job_id}"):
            polls.append(monotonic())

    page.on("request", count_poll)
    await page.goto(f"{web.url}jobs/{job_id}")
    await expect(page.locator("body")).to_have_attribute("data-transport", "polling")

    percents = await _watch(
        lambda: page.locator("#job-percent").inner_text(timeout=5000),
        lambda: _has_text(page, "#job-state", "succeeded"),
        f"job {job_id} to succeed on its page",
    )
    assert len(percents) >= 2 and percents[-1] == "100%", percents
    assert refused and all("/events" in url for url in refused)
    gaps = [later - earlier for earlier, later in pairwise(polls)]
    assert gaps and max(gaps) < 2, gaps  # every 500 ms, not only when the stream is retried
    await expect(page.locator("body")).to_have_attribute("data-transport", "polling")
    await _check_numbers(page, web, job_id)


async def test_a_job_another_process_runs_appears_and_progresses(
    page: Page, web: WebServer, mast_sim: SimThread
) -> None:
    mast_sim.set_faults(bandwidth=160 * KIB)  # about 3 s: its owner publishes once a second
    await page.goto(web.url + "jobs")
    with open_catalog(web.catalog_url) as catalog:
        before = max((j.id for j in catalog.list_jobs(limit=1000)), default=0)
    cli = skyhaul_command(
        "mast", "import", NIRCAM, "--source", "http", "-d", str(web.dest / "cli"),
        "--catalog", web.catalog_url,
    )  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *cli,
        env=server_environment(web.mast_url),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        job_id = await wait_until(lambda: _newest_job(web, before), 20, "the CLI's job")
        row = page.locator(f'#jobs tr[data-job-id="{job_id}"]')
        percents = await _watch(
            lambda: row.locator(".bar").get_attribute("data-percent", timeout=5000),
            lambda: _has_text(row, "td.state", "succeeded"),
            f"job {job_id} to succeed on the jobs page",
        )
        _, errors = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, errors.decode()
    assert any(0 < int(p) < 100 for p in percents), percents  # followed while it ran
    assert percents[-1] == "100", percents
    await expect(row.locator("td.kind")).to_have_text("import")
    await expect(row.locator("td.files")).to_have_text("12/12")
    await expect(page.locator("body")).to_have_attribute("data-transport", "sse")


def _bytes_done(web: WebServer, job_id: int) -> int:
    progress = _job(web, job_id).progress
    return 0 if progress is None else progress.bytes_done


def _newest_job(web: WebServer, after: int) -> int | None:
    with open_catalog(web.catalog_url) as catalog:
        newer = [j.id for j in catalog.list_jobs(limit=10) if j.id > after]
    return max(newer, default=None)


async def _has_text(scope: Page | Locator, selector: str, text: str) -> bool:
    locator = scope.locator(selector)
    return bool(await locator.count()) and (await locator.first.inner_text()).strip() == text
