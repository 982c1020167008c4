"""Real Chromium against a real ``skyhaul serve``, for the browser tests and the screenshots.

Rules:
- Chromium is Debian's (``/usr/bin/chromium``, installed by ``make test``), launched by
  Playwright through ``executable_path``: ``playwright install`` is never run.
- Playwright's async API, not its sync one: the sync API leaves asyncio's running loop set
  in the thread between calls, which breaks the loops pytest-asyncio runs other tests in.
- Without Chromium or Playwright the browser tests are skipped with the reason, except
  under ``CI=true``, where they must run, so they fail.
- The server is started as an operator starts it (``skyhaul serve --port 0 --url-file F``
  in a subprocess); it is ready once the URL file exists, which is polled with a deadline.
- Nothing here reaches the Internet: MAST is the simulator, and S3 points at a closed
  port (an ``auto`` import goes on from MAST's URL at once).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "VIEWPORT",
    "WebServer",
    "browser_missing",
    "launch_chromium",
    "parse_size",
    "require_browser",
    "server_environment",
    "skyhaul_command",
    "start_server",
    "wait_until",
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: The size of every page the tests and screenshots look at.
VIEWPORT = {"width": 1280, "height": 800}
#: Nothing listens on the discard port: S3 requests are refused at once.
_CLOSED_S3 = "http://127.0.0.1:9"


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not os.access(CHROMIUM, os.X_OK):
        return (
            f"{CHROMIUM} is missing: install Debian's chromium and chromium-driver"
            " (`make test` does)"
        )
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is missing: pip install -e '.[dev]' (`make test` does)"
    return None


def require_browser() -> None:
    """Skip the calling test (fail it under ``CI=true``) when the browser cannot run."""
    reason = browser_missing()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests must run under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


async def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's headless Chromium, with the flags the issue names."""
    return await playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))


def skyhaul_command(*args: str) -> list[str]:
    """The command line of ``skyhaul ARGS`` run by this interpreter."""
    return [sys.executable, "-m", "skyhaul.cli.app", *args]


def server_environment(mast_url: str) -> dict[str, str]:
    """The environment of a server or CLI process: this one's (its ``PYTHONPATH``), MAST
    at ``mast_url``, and S3 on loopback, unsigned, refused."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SKYHAUL_"))}
    env.update(
        SKYHAUL_MAST_URL=mast_url,
        AWS_ENDPOINT_URL_S3=_CLOSED_S3,
        AWS_SKIP_SIGNATURE="true",
        NO_COLOR="1",
    )
    return env


@dataclass
class WebServer:
    """A ``skyhaul serve`` process and what it serves.

    Parameters
    ----------
    url : str
        Its root URL, ending in ``/``.
    catalog_url : str
        Its catalog (other processes may use it too).
    dest : Path
        Where the imports it starts go.
    mast_url : str
        The MAST it asks.
    process : subprocess.Popen
        The server process.
    """

    url: str
    catalog_url: str
    dest: Path
    mast_url: str
    process: subprocess.Popen[bytes]

    def get(self, path: str) -> Any:
        """``GET path`` (without the leading slash) as JSON."""
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return json.load(answer)

    def post(self, path: str, body: Mapping[str, object]) -> Any:
        """``POST path`` with a JSON body and the CSRF header, as a page sends it."""
        csrf = self.get("api/session")["csrf"]
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "X-CSRF-Token": csrf},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    def start_import(self, obs_id: str) -> int:
        """Import an observation's products over HTTP, as the MAST page does; return the
        job's id (it runs in the server)."""
        body = {"obs_ids": [obs_id], "product_type": None, "source": "http"}
        return int(self.post("api/mast/import", body)["job_id"])

    def stop(self) -> None:
        """SIGINT (the server cancels its runs and exits 0); killed if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_server(
    workdir: Path, catalog_url: str, mast_url: str, *, timeout: float = 30.0
) -> WebServer:
    """Start ``skyhaul serve`` on a free loopback port; return once it serves.

    Its output goes to ``workdir/serve.log``, shown when it fails to start.
    """
    url_file = workdir / "serve.url"
    dest = workdir / "data"
    log = workdir / "serve.log"
    serve = skyhaul_command(
        "serve", "--port", "0", "--url-file", str(url_file), "--catalog", catalog_url,
        "-d", str(dest), "--mast-url", mast_url,
    )  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(
            serve, cwd=workdir, env=server_environment(mast_url), stdout=output, stderr=output
        )
    deadline = time.monotonic() + timeout
    while not url_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait(timeout=5)
            raise AssertionError(f"skyhaul serve did not start:\n{log.read_text()}")
        time.sleep(0.05)
    url = url_file.read_text().strip()
    return WebServer(url, catalog_url, dest, mast_url, process)


async def wait_until(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    """Poll ``condition`` (sync or async) until it returns something true; return that.

    Raises
    ------
    AssertionError
        It did not within ``seconds`` (the message names ``what``).
    """
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        await asyncio.sleep(0.05)


_SIZE_RE = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*(B|KiB|MiB|GiB|TiB)\s*$")
_UNIT = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}


def parse_size(text: str) -> tuple[float, float]:
    """A size as a page shows it (``512 B``, ``338.5 KiB``): its value in bytes, and how
    far from the exact count the shown digits allow (half the last digit's unit)."""
    found = _SIZE_RE.match(text)
    if found is None:
        raise AssertionError(f"{text!r} is not a size")
    number, unit = found.group(1).replace(",", ""), found.group(2)
    decimals = len(number.partition(".")[2])
    scale = _UNIT[unit]
    return float(number) * scale, scale * 0.5 * 10**-decimals if unit != "B" else 0.0
