"""Screenshots of the jobs, job, MAST and files pages for the README, at 1280x800.

Run from the repository root: ``python -m tests.web.screenshots [DIR]`` (default ``docs``).
It starts the simulator and ``skyhaul serve`` as the browser tests do, imports a few
observations (one slowed down, so that it is in flight when the pictures are taken), and
writes ``web-jobs.png``, ``web-job.png``, ``web-mast.png`` and ``web-files.png``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect
from tests.web.browser import VIEWPORT, WebServer, browser_missing, launch_chromium, start_server

from skyhaul.sim.archive import ArchiveSpec
from skyhaul.sim.config import SimConfig
from skyhaul.sim.thread import SimThread

DONE = ("jw01177-o007_t004_miri_f1280w", "tess2018206045859-s0001-0000000261136679-0120-s")
CANCELLED = "IEPW01010"
IN_FLIGHT = "jw02727-o002_t062_nircam_clear-f277w"  # 30 products, 16 MiB
SEARCHED = "NGC 628"
KIB = 1024


async def take(out: Path) -> None:
    """Write the four screenshots into ``out`` (a directory that exists)."""
    with tempfile.TemporaryDirectory(prefix="skyhaul-shots-") as scratch:
        root = Path(scratch)
        config = SimConfig(archive=ArchiveSpec.exact(1, 1024, seed=1), root=root / "sim")
        with SimThread(config) as sim:
            (root / "serve").mkdir()
            web = start_server(
                root / "serve", f"sqlite:///{root / 'serve' / 'catalog.db'}", sim.mast.server_url
            )
            try:
                for obs_id in DONE:
                    await _finished(web, web.start_import(obs_id))
                sim.set_faults(bandwidth=32 * KIB)
                cancelled = web.start_import(CANCELLED)
                job_id = web.start_import(IN_FLIGHT)
                await asyncio.sleep(1)
                web.post(f"api/jobs/{cancelled}/cancel", {})
                async with async_playwright() as playwright:
                    browser = await launch_chromium(playwright)
                    page = await browser.new_page(viewport=VIEWPORT)
                    await _job_page(page, web, job_id, out / "web-job.png")
                    await page.goto(web.url + "jobs")
                    await expect(page.locator("body")).to_have_attribute("data-transport", "sse")
                    await page.screenshot(path=out / "web-jobs.png")
                    await _mast_page(page, web, out / "web-mast.png")
                    await page.goto(web.url + "files")
                    await page.screenshot(path=out / "web-files.png")
                    await browser.close()
            finally:
                web.stop()


async def _finished(web: WebServer, job_id: int) -> None:
    for _ in range(600):
        if web.get(f"api/jobs/{job_id}")["state"] not in ("queued", "running"):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"job {job_id} did not finish in 30 s")


async def _job_page(page: Page, web: WebServer, job_id: int, path: Path) -> None:
    """The job in flight: some files done, others moving, a few seconds of the chart."""
    await page.goto(f"{web.url}jobs/{job_id}")
    await expect(page.locator("#in-flight tbody tr").first).to_be_visible(timeout=15_000)
    await expect(page.locator("#recent-files tbody tr").nth(3)).to_be_visible(timeout=15_000)
    await page.wait_for_timeout(15_000)  # the chart draws some throughput
    await page.screenshot(path=path)


async def _mast_page(page: Page, web: WebServer, path: Path) -> None:
    await page.goto(web.url + "mast")
    await page.locator("#mast-search [name=target]").fill(SEARCHED)
    await page.locator("#mast-search [type=submit]").click()
    first = page.locator("#results tbody tr[data-obs-id]").first
    await first.locator("button.products").click()
    await expect(page.locator("#products tbody tr").first).to_be_visible()
    await page.screenshot(path=path)


def main() -> None:
    """``python -m tests.web.screenshots [DIR]``."""
    reason = browser_missing()
    if reason is not None:
        sys.exit(f"screenshots: {reason}")
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(take(out))


if __name__ == "__main__":
    main()
