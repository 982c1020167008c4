"""PageClient against real aiohttp servers on loopback: answers, auth errors, retries with
Retry-After, credentials kept to their origin, and redacted messages."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from tests.adapters.http.loopback import endless_json, serve

from skyhaul.adapters.pages import PageClient
from skyhaul.errors import SourceAuthError, SourceError

SECRET = "tok-9f8e7d"
AUTH = {"Authorization": f"Bearer {SECRET}"}


@dataclass
class Archive:
    """A loopback server that records every request and can be told to fail."""

    url: str = ""
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    failures: int = 0
    """How many requests to /flaky fail (with 500) before one succeeds."""
    in_flight: int = 0
    two_in_flight: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def paths(self) -> list[str]:
        return [path for path, _ in self.seen]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/page", self._page)
        app.router.add_get("/doc.json", self._json)
        app.router.add_get("/deep.json", self._deep)
        app.router.add_get("/status/{code}", self._status)
        app.router.add_get("/flaky", self._flaky)
        app.router.add_get("/hold", self._hold)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/endless", self._endless)
        return app

    def _record(self, request: web.Request) -> None:
        self.seen.append((request.path_qs, request.headers.get("Authorization")))

    async def _page(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(text="<html>café</html>", content_type="text/html")

    async def _json(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.json_response({"files": [1, 2]})

    async def _deep(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(text="[" * 100_000 + "]" * 100_000, content_type="application/json")

    async def _status(self, request: web.Request) -> web.Response:
        self._record(request)
        headers = {}
        if "after" in request.query:
            headers["Retry-After"] = request.query["after"]
        return web.Response(status=int(request.match_info["code"]), headers=headers, text="no")

    async def _flaky(self, request: web.Request) -> web.Response:
        self._record(request)
        if self.failures > 0:
            self.failures -= 1
            return web.Response(status=500)
        return web.Response(text="finally")

    async def _hold(self, request: web.Request) -> web.Response:
        self._record(request)
        self.in_flight += 1
        if self.in_flight >= 2:
            self.two_in_flight.set()
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        return web.Response(text="held")

    async def _redirect(self, request: web.Request) -> web.Response:
        self._record(request)
        raise web.HTTPFound(request.query["to"])

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        return await endless_json(request, b'{"files": [', b'{"url": "http://a.example/x"},')


StartArchive = Callable[[], Awaitable[Archive]]


@pytest.fixture
async def start_archive() -> AsyncIterator[StartArchive]:
    """Start archives on loopback (port 0); all are stopped after the test."""
    runners: list[web.AppRunner] = []

    async def start() -> Archive:
        archive = Archive()
        runner, archive.url = await serve(archive.app())
        runners.append(runner)
        return archive

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def archive(start_archive: StartArchive) -> Archive:
    return await start_archive()


@dataclass
class Sleeps:
    """An injected sleep that records the delays asked for and returns at once."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make_client(sleeps: Sleeps) -> AsyncIterator[Callable[..., PageClient]]:
    """PageClients with the recording sleep and no jitter (rand = 1: the full backoff)."""
    clients: list[PageClient] = []

    def make(**kwargs: object) -> PageClient:
        settings: dict[str, object] = {"sleep": sleeps, "rand": lambda: 1.0, "attempts": 3}
        settings.update(kwargs)
        client = PageClient("lasco", **settings)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL whose port is bound but not listening: connections are refused."""
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{reserved.getsockname()[1]}/list?token={SECRET}"


def assert_redacted(message: str) -> None:
    assert SECRET not in message
    assert "token=REDACTED" in message
    assert "\n" not in message


# --- answers -----------------------------------------------------------------------------


async def test_get_text_returns_the_page(archive: Archive, make_client) -> None:
    client = make_client()
    assert await client.get_text(f"{archive.url}/page") == "<html>café</html>"
    assert client.requests == 1


async def test_get_json_returns_the_document(archive: Archive, make_client) -> None:
    assert await make_client().get_json(f"{archive.url}/doc.json") == {"files": [1, 2]}


@pytest.mark.parametrize("code", [404, 410])
async def test_not_found_is_an_answer(archive: Archive, make_client, sleeps, code: int) -> None:
    client = make_client()
    assert await client.get_text(f"{archive.url}/status/{code}") is None
    assert client.requests == 1 and sleeps.delays == []


async def test_get_json_of_a_missing_page_is_an_error(archive: Archive, make_client) -> None:
    with pytest.raises(SourceError) as caught:
        await make_client().get_json(f"{archive.url}/status/404?token={SECRET}")
    message = str(caught.value)
    assert message.startswith("source lasco: ") and "not found (404)" in message
    assert_redacted(message)


async def test_get_json_of_a_page_that_is_not_json_is_an_error(
    archive: Archive, make_client
) -> None:
    with pytest.raises(SourceError) as caught:
        await make_client().get_json(f"{archive.url}/page?token={SECRET}")
    message = str(caught.value)
    assert "is not JSON" in message
    assert_redacted(message)


async def test_get_json_of_a_document_nested_too_deeply_is_an_error(
    archive: Archive, make_client
) -> None:
    with pytest.raises(SourceError) as caught:
        await make_client().get_json(f"{archive.url}/deep.json?token={SECRET}")
    message = str(caught.value)
    assert message.endswith("/deep.json?token=REDACTED is not JSON (nested too deeply)")


@pytest.mark.parametrize("code", [401, 403])
async def test_refused_credentials_are_an_auth_error_at_once(
    archive: Archive, make_client, sleeps, code: int
) -> None:
    client = make_client()
    with pytest.raises(SourceAuthError) as caught:
        await client.get_text(f"{archive.url}/status/{code}?token={SECRET}")
    message = str(caught.value)
    assert f"HTTP {code}" in message and "credentials" in message
    assert_redacted(message)
    assert caught.value.exit_code == 2
    assert client.requests == 1 and sleeps.delays == []


async def test_other_client_error_is_a_source_error_at_once(
    archive: Archive, make_client, sleeps
) -> None:
    client = make_client()
    with pytest.raises(SourceError) as caught:
        await client.get_text(f"{archive.url}/status/400?token={SECRET}")
    assert not isinstance(caught.value, SourceAuthError)
    assert "HTTP 400" in str(caught.value)
    assert_redacted(str(caught.value))
    assert client.requests == 1 and sleeps.delays == []


# --- retries -----------------------------------------------------------------------------


async def test_server_error_is_retried_then_a_source_error(
    archive: Archive, make_client, sleeps
) -> None:
    client = make_client(attempts=4)
    with pytest.raises(SourceError) as caught:
        await client.get_text(f"{archive.url}/status/500?token={SECRET}")
    message = str(caught.value)
    assert "HTTP 500" in message and "(after 4 tries)" in message
    assert_redacted(message)
    assert len(archive.seen) == 4 and client.requests == 4
    # Full backoff (rand = 1) doubles from 0.5 s; no sleep after the last try.
    assert sleeps.delays == [0.5, 1.0, 2.0]


async def test_backoff_is_jittered_by_rand(archive: Archive, make_client, sleeps) -> None:
    client = make_client(attempts=3, rand=lambda: 0.25)
    with pytest.raises(SourceError):
        await client.get_text(f"{archive.url}/status/502")
    assert sleeps.delays == [0.125, 0.25]


async def test_backoff_is_the_retry_policys_full_jitter_capped_at_30s(
    archive: Archive, make_client, sleeps
) -> None:
    draws = iter([0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0])
    client = make_client(attempts=9, rand=lambda: next(draws))
    with pytest.raises(SourceError, match=r"after 9 tries"):
        await client.get_text(f"{archive.url}/status/503")
    # random() * min(30, 0.5 * 2 ** (try - 1)), one draw per wait, none after the last try.
    assert sleeps.delays == pytest.approx([0.1, 0.4, 1.2, 3.2, 8.0, 16.0, 30.0, 30.0])
    assert client.requests == 9


@pytest.mark.parametrize("code", [429, 503, 500])
async def test_retry_after_is_a_floor_on_the_wait(
    archive: Archive, make_client, sleeps, code: int
) -> None:
    client = make_client(attempts=3, rand=lambda: 0.0)
    with pytest.raises(SourceError, match=f"HTTP {code}"):
        await client.get_text(f"{archive.url}/status/{code}?after=7")
    assert sleeps.delays == [7.0, 7.0]
    assert len(archive.seen) == 3


async def test_retry_after_below_the_backoff_does_not_shorten_it(
    archive: Archive, make_client, sleeps
) -> None:
    client = make_client(attempts=3)
    with pytest.raises(SourceError):
        await client.get_text(f"{archive.url}/status/429?after=0")
    assert sleeps.delays == [0.5, 1.0]


@pytest.mark.parametrize("after", ["99999999", "1000000000000"])
async def test_a_retry_after_longer_than_the_longest_wait_fails_the_page_at_once(
    archive: Archive, make_client, sleeps, after: str
) -> None:
    # Waiting 3 years once hung discover and watch.
    client = make_client(attempts=3)
    with pytest.raises(SourceError) as caught:
        await client.get_text(f"{archive.url}/status/429?after={after}&token={SECRET}")
    message = str(caught.value)
    assert "HTTP 429" in message and "longer than the 10m00s a run waits" in message
    assert_redacted(message)
    assert client.requests == 1 and sleeps.delays == []


async def test_the_longest_wait_of_a_listing_is_a_setting(
    archive: Archive, make_client, sleeps
) -> None:
    client = make_client(attempts=3, rand=lambda: 0.0, max_wait=5.0)
    with pytest.raises(SourceError, match=r"asked to wait 7.0s, longer than the 5.0s a run waits"):
        await client.get_text(f"{archive.url}/status/429?after=7")
    assert sleeps.delays == []
    with pytest.raises(SourceError, match=r"after 3 tries"):
        await client.get_text(f"{archive.url}/status/429?after=5")
    assert sleeps.delays == [5.0, 5.0]


async def test_an_endless_listing_fails_with_a_clear_error(
    archive: Archive, make_client, sleeps
) -> None:
    # An endless JSON listing once took 6.3 GiB of memory in 24 s.
    client = make_client(max_answer_size=256 * 1024)
    with pytest.raises(SourceError) as caught:
        await asyncio.wait_for(client.get_json(f"{archive.url}/endless?token={SECRET}"), 20)
    message = str(caught.value)
    assert message.startswith("source lasco: ")
    assert "larger than 256.0 KiB" in message and "max_answer_size" in message
    assert_redacted(message)
    assert client.requests == 1 and sleeps.delays == []


async def test_a_retry_that_succeeds_returns_the_page(
    archive: Archive, make_client, sleeps
) -> None:
    archive.failures = 2
    client = make_client(attempts=3)
    assert await client.get_text(f"{archive.url}/flaky") == "finally"
    assert archive.paths() == ["/flaky"] * 3
    assert sleeps.delays == [0.5, 1.0]


async def test_connection_refused_is_retried_then_a_source_error(
    refused_url: str, make_client, sleeps
) -> None:
    client = make_client(attempts=3)
    with pytest.raises(SourceError) as caught:
        await client.get_text(refused_url)
    message = str(caught.value)
    assert "cannot connect" in message and "(after 3 tries)" in message
    assert_redacted(message)
    assert client.requests == 3 and sleeps.delays == [0.5, 1.0]


async def test_attempts_below_one_still_try_once(refused_url: str, make_client, sleeps) -> None:
    client = make_client(attempts=0)
    with pytest.raises(SourceError, match=r"after 1 tries"):
        await client.get_text(refused_url)
    assert client.requests == 1 and sleeps.delays == []


# --- credentials and politeness ------------------------------------------------------------


async def test_credentials_go_to_their_origin_only(
    start_archive: StartArchive, make_client
) -> None:
    own, other = await start_archive(), await start_archive()
    client = make_client(headers=AUTH, origin=own.url)
    await client.get_text(f"{own.url}/page")
    await client.get_text(f"{other.url}/page")
    await client.get_json(f"{own.url}/doc.json")
    assert own.seen == [("/page", f"Bearer {SECRET}"), ("/doc.json", f"Bearer {SECRET}")]
    assert other.seen == [("/page", None)]


async def test_credentials_do_not_follow_a_redirect_to_another_origin(
    start_archive: StartArchive, make_client
) -> None:
    own, other = await start_archive(), await start_archive()
    client = make_client(headers=AUTH, origin=own.url)
    assert await client.get_text(f"{own.url}/redirect?to={other.url}/page") == "<html>café</html>"
    assert own.seen[0][1] == f"Bearer {SECRET}"
    assert other.seen == [("/page", None)]


async def test_no_origin_means_no_credentials(archive: Archive, make_client) -> None:
    client = make_client(headers=AUTH, origin=None)
    await client.get_text(f"{archive.url}/page")
    assert archive.seen == [("/page", None)]


async def test_at_most_concurrency_requests_in_flight(archive: Archive, make_client) -> None:
    client = make_client(concurrency=2)
    tasks = [asyncio.create_task(client.get_text(f"{archive.url}/hold")) for _ in range(5)]
    await asyncio.wait_for(archive.two_in_flight.wait(), timeout=10)
    # Every task reached the gate long before two requests arrived; only two got through.
    assert client.requests == 2 and archive.in_flight == 2
    archive.release.set()
    assert await asyncio.gather(*tasks) == ["held"] * 5
    assert client.requests == 5


async def test_aclose_is_idempotent_and_a_new_session_opens_on_demand(
    archive: Archive, make_client
) -> None:
    client = make_client()
    await client.get_text(f"{archive.url}/page")
    await client.aclose()
    await client.aclose()
    assert await client.get_text(f"{archive.url}/page") is not None
    assert archive.paths() == ["/page", "/page"]
