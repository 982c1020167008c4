"""Who may use the web view (web.auth, web.settings): with a token, the API needs it as a
bearer header or the login cookie; browser requests that change state need the CSRF
header; cross-site requests are refused; static files are open; no answer shows a secret.
Without a token the server only binds to loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import urlsplit

import httpx
import pytest
from tests.web.mast_fixtures import (
    BASE_URL,
    MIRI,
    TESS,
    Web,
    mast_sim,
    module_mast_sim,
    start_web,
    wait_job,
    web_settings,
)

from skyhaul.core.jobs import JobState
from skyhaul.errors import UsageError
from skyhaul.sim.thread import SimThread
from skyhaul.web.auth import SESSION_COOKIE, session_value
from skyhaul.web.settings import WebSettings, check_exposure, is_loopback

__all__ = ["mast_sim", "module_mast_sim", "web_settings"]  # the fixtures

TOKEN = "tok-3c1f9a-never-shown"
PASSWORD = "hunter2-never-shown"


@pytest.fixture
async def guarded(web_settings: WebSettings, mast_sim: SimThread) -> AsyncIterator[Web]:
    """The app with a token, MAST's URL carrying a password; its client sends the token."""
    origin = urlsplit(mast_sim.mast.server_url)
    with_password = f"http://skyhaul:{PASSWORD}@{origin.netloc}"
    settings = replace(web_settings, token=TOKEN, mast_url=with_password)
    async for running in start_web(settings):
        yield running


def _bare(web: Web, **headers: str) -> httpx.AsyncClient:
    """A client of ``web``'s app sending only ``headers`` (no token, no CSRF header)."""
    transport = httpx.ASGITransport(app=web.app)
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers)


async def test_the_api_needs_the_token(guarded: Web) -> None:
    async with _bare(guarded) as nobody:
        answer = await nobody.get("/api/jobs")
        assert answer.status_code == 401
        assert answer.json() == {"error": "log in first: a token is required"}
        assert answer.headers["www-authenticate"] == "Bearer"
        assert (await nobody.post("/api/jobs/1/cancel")).status_code == 401
    async with _bare(guarded, authorization="Bearer not-the-token") as wrong:
        answer = await wrong.get("/api/jobs")
        assert (answer.status_code, answer.json()) == (401, {"error": "wrong token"})
    async with _bare(guarded, authorization=f"Bearer {TOKEN}") as script:
        assert (await script.get("/api/jobs")).status_code == 200
        session = (await script.get("/api/session")).json()
        assert session == {"csrf": guarded.server.gate.csrf, "token_required": True}
        # A bearer request needs no CSRF header: it passes the gate (no such job).
        answer = await script.post("/api/jobs/999/cancel")
        assert (answer.status_code, answer.json()) == (404, {"error": "no job 999"})


async def test_a_page_without_the_token_goes_to_the_login_form(guarded: Web) -> None:
    async with _bare(guarded) as browser:
        answer = await browser.get("/jobs/7", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/jobs/7"


async def test_the_session_cookie_lets_reads_in_and_writes_with_the_csrf_header(
    guarded: Web,
) -> None:
    cookie = f"{SESSION_COOKIE}={session_value(TOKEN)}"
    async with _bare(guarded, cookie=cookie) as browser:
        assert (await browser.get("/api/jobs")).status_code == 200
        refused = await browser.post("/api/jobs/999/cancel")
        assert refused.status_code == 403
        assert "X-CSRF-Token" in refused.json()["error"]
        wrong = await browser.post("/api/jobs/999/cancel", headers={"x-csrf-token": "guess"})
        assert wrong.status_code == 403
        csrf = guarded.server.gate.csrf
        allowed = await browser.post("/api/jobs/999/cancel", headers={"x-csrf-token": csrf})
        assert allowed.status_code == 404  # past the gate
    async with _bare(guarded, cookie=f"{SESSION_COOKIE}={TOKEN}") as forged:
        assert (await forged.get("/api/jobs")).status_code == 401  # the cookie is no token


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://127.0.0.1.evil.example", "null"]
)
async def test_a_cross_site_post_is_refused_even_with_the_token(guarded: Web, origin: str) -> None:
    csrf = guarded.server.gate.csrf
    answer = await guarded.client.post(
        "/api/jobs/999/cancel", headers={"origin": origin, "x-csrf-token": csrf}
    )
    assert (answer.status_code, answer.json()) == (403, {"error": "cross-site request refused"})
    same_site = await guarded.client.post("/api/jobs/999/cancel", headers={"origin": BASE_URL})
    assert same_site.status_code == 404


async def test_static_files_are_open(guarded: Web) -> None:
    async with _bare(guarded) as browser:
        answer = await browser.get("/static/style.css")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/css")


async def test_no_answer_shows_a_secret(guarded: Web, mast_sim: SimThread) -> None:
    client = guarded.client
    bodies = [
        await client.get("/api/session"),
        await client.get("/api/mast/search", params={"obs_id": MIRI}),
        await client.get(f"/api/mast/products/{MIRI}"),
    ]
    products = bodies[-1].json()["products"]
    assert products and all("REDACTED" in p["url"] for p in products)
    imported = await client.post("/api/mast/import", json={"obs_ids": [TESS], "source": "http"})
    assert imported.status_code == 200, imported.text
    job_id = imported.json()["job_id"]
    await wait_job(client, job_id, JobState.SUCCEEDED)
    bodies += [
        imported,
        await client.get(f"/api/jobs/{job_id}"),
        await client.get("/api/jobs"),
        await client.get(f"/api/jobs/{job_id}/events"),
    ]
    mast_sim.set_mast_knobs(error_services=["Mast.Caom.Filtered"])
    bodies.append(await client.get("/api/mast/search", params={"obs_id": MIRI}))
    assert bodies[-1].status_code == 502
    async with _bare(guarded, authorization=f"Bearer {TOKEN}x") as wrong:
        bodies.append(await wrong.get("/api/jobs"))
    for answer in bodies:
        assert TOKEN not in answer.text and PASSWORD not in answer.text, answer.url
    job = bodies[4].json()
    assert job["params"]["mast"]["url"].startswith("http://skyhaul:REDACTED@")
    stored = guarded.catalog.get_job(job_id)
    assert stored is not None and PASSWORD not in json.dumps(dict(stored.params))


def test_loopback_hosts() -> None:
    for host in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org", "", "localhost.example"):
        assert not is_loopback(host), host


def test_off_loopback_a_token_is_required() -> None:
    check_exposure("127.0.0.1", None)
    check_exposure("0.0.0.0", "a-token")
    with pytest.raises(UsageError, match=r"^--host 0\.0\.0\.0 is reachable from other machines"):
        check_exposure("0.0.0.0", None)
    with pytest.raises(UsageError, match="--token-env"):
        check_exposure("example.org", None)
