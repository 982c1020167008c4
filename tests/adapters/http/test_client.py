"""The shared HTTP client under its three users (file transport, listing pages, records API):
one test body each, run against real loopback servers, for the redirect policy, the
credential rule, TLS verification and the timeouts; then the client's own settings."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import pytest
from tests.adapters.http.loopback import DATA, Archive, StartArchive
from yarl import URL

from skyhaul.adapters.http import USER_AGENT, HttpClient, HttpSettings, HttpTransport
from skyhaul.adapters.pages import PageClient
from skyhaul.adapters.sources.records_api import RecordsApiSettings, RecordsClient
from skyhaul.errors import ClientError, ReadTimeoutError, SkyhaulError, SourceError

SECRET = "tok-5e3c"
AUTH = f"Bearer {SECRET}"


class Fetcher(Protocol):
    async def fetch(self, url: str) -> bytes: ...

    async def close(self) -> None: ...


class TransportFetcher:
    def __init__(self, origin: str | None, timeout: float, verify_tls: bool) -> None:
        grants = () if origin is None else ((origin, AUTH),)
        self.client = HttpTransport(
            HttpSettings(
                connect_timeout=timeout,
                read_timeout=timeout,
                verify_tls=verify_tls,
                authorization=grants,
            )
        )

    async def fetch(self, url: str) -> bytes:
        async with self.client.open(url) as body:
            return b"".join([chunk async for chunk in body.chunks()])

    async def close(self) -> None:
        await self.client.close()


class PageFetcher:
    def __init__(self, origin: str | None, timeout: float, verify_tls: bool) -> None:
        self.client = PageClient(
            "pages",
            headers={"Authorization": AUTH},
            origin=origin,
            verify_tls=verify_tls,
            timeout=timeout,
            attempts=1,
        )

    async def fetch(self, url: str) -> bytes:
        text = await self.client.get_text(url)
        assert text is not None
        return text.encode()

    async def close(self) -> None:
        await self.client.aclose()


class RecordsFetcher:
    def __init__(self, origin: str | None, timeout: float, verify_tls: bool) -> None:
        self.client = RecordsClient(
            RecordsApiSettings(
                name="records",
                url=f"{origin or 'http://anonymous.invalid'}/api/records",
                query="?from={start}&to={end}",
                params={},
                chunk=timedelta(hours=1),
                expected_per_day=None,
                timeout=timeout,
                verify_tls=verify_tls,
                authorization=None if origin is None else AUTH,
            )
        )

    async def fetch(self, url: str) -> bytes:
        return await self.client.fetch(url)

    async def close(self) -> None:
        await self.client.aclose()


@dataclass(frozen=True)
class User:
    """One user of the shared client, and the errors it reports a refusal with."""

    make: Callable[[str | None, float, bool], Fetcher]
    refused: type[SkyhaulError]
    timed_out: type[SkyhaulError]


USERS = {
    "transport": User(TransportFetcher, ClientError, ReadTimeoutError),
    "pages": User(PageFetcher, SourceError, SourceError),
    "records": User(RecordsFetcher, ClientError, ReadTimeoutError),
}

MakeFetcher = Callable[..., Fetcher]


@pytest.fixture(params=sorted(USERS))
def user(request: pytest.FixtureRequest) -> User:
    return USERS[request.param]


@pytest.fixture
async def make(user: User) -> AsyncIterator[MakeFetcher]:
    """Fetchers of the user under test; all closed after the test."""
    made: list[Fetcher] = []

    def build(origin: str | None, *, timeout: float = 30.0, verify_tls: bool = True) -> Fetcher:
        fetcher = user.make(origin, timeout, verify_tls)
        made.append(fetcher)
        return fetcher

    yield build
    for fetcher in made:
        await fetcher.close()


def redirect(archive: Archive, to: str, status: int = 302) -> str:
    """A URL of ``archive`` that answers ``status`` with ``Location: to``."""
    return str(URL(archive.url).with_path("/redirect").with_query(status=status, to=to))


# --- the credential rule, hop by hop -------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_to_another_origin_never_carries_the_credentials(
    start_archive: StartArchive, make: MakeFetcher, status: int
) -> None:
    own, other = await start_archive(), await start_archive()
    fetcher = make(own.url)
    assert await fetcher.fetch(redirect(own, f"{other.url}/data", status)) == DATA
    assert [auth for _, auth in own.authorizations()] == [AUTH]
    assert other.authorizations() == [("/data", None)]


async def test_a_redirect_back_to_the_credential_origin_carries_them(
    start_archive: StartArchive, make: MakeFetcher
) -> None:
    own, other = await start_archive(), await start_archive()
    back = redirect(other, f"{own.url}/data")
    assert await make(own.url).fetch(redirect(own, back)) == DATA
    assert [auth for _, auth in own.authorizations()] == [AUTH, AUTH]
    assert [auth for _, auth in other.authorizations()] == [None]


async def test_each_hop_is_checked_by_its_normalised_origin(
    start_archive: StartArchive, make: MakeFetcher
) -> None:
    archive = await start_archive()
    port = archive.url.rpartition(":")[2]
    # Credentials belong to localhost; the first request goes to 127.0.0.1 (another origin),
    # the hop to the same server spelt with upper case, which is localhost again.
    fetcher = make(f"HTTP://LocalHost:{port}/")
    assert await fetcher.fetch(redirect(archive, f"HTTP://LOCALHOST:{port}/data")) == DATA
    assert [auth for _, auth in archive.authorizations()] == [None, AUTH]


async def test_no_credential_origin_means_no_credentials(
    start_archive: StartArchive, make: MakeFetcher
) -> None:
    archive = await start_archive()
    assert await make(None).fetch(redirect(archive, f"{archive.url}/data")) == DATA
    assert [auth for _, auth in archive.authorizations()] == [None, None]


async def test_every_request_says_it_is_skyhaul(
    start_archive: StartArchive, make: MakeFetcher
) -> None:
    archive = await start_archive()
    await make(None).fetch(redirect(archive, f"{archive.url}/data"))
    assert [seen.user_agent for seen in archive.seen] == [USER_AGENT, USER_AGENT]


# --- the redirect policy -------------------------------------------------------------------


async def test_a_redirect_from_https_to_http_is_refused(
    start_archive: StartArchive, make: MakeFetcher, user: User, tls_context: ssl.SSLContext
) -> None:
    secure, plain = await start_archive(tls=tls_context), await start_archive()
    fetcher = make(secure.url, verify_tls=False)
    with pytest.raises(user.refused, match="https to http refused"):
        await fetcher.fetch(redirect(secure, f"{plain.url}/data?token={SECRET}"))
    assert [auth for _, auth in secure.authorizations()] == [AUTH]
    assert plain.seen == []


async def test_a_redirect_loop_stops_at_the_limit(
    start_archive: StartArchive, make: MakeFetcher, user: User
) -> None:
    archive = await start_archive()
    with pytest.raises(user.refused, match="too many redirects") as caught:
        await make(archive.url).fetch(f"{archive.url}/loop?token={SECRET}")
    assert SECRET not in str(caught.value)
    assert len(archive.seen) == 11  # the request and the 10 redirects it may follow


# --- TLS and timeouts ----------------------------------------------------------------------


async def test_tls_certificates_are_verified_by_default(
    start_archive: StartArchive, make: MakeFetcher, user: User, tls_context: ssl.SSLContext
) -> None:
    secure = await start_archive(tls=tls_context)
    with pytest.raises(user.refused, match="not trusted"):
        await make(secure.url).fetch(f"{secure.url}/data")
    assert secure.seen == []
    assert await make(secure.url, verify_tls=False).fetch(f"{secure.url}/data") == DATA


async def test_a_silent_server_is_bounded_by_the_read_timeout(
    start_archive: StartArchive, make: MakeFetcher, user: User
) -> None:
    archive = await start_archive()
    fetcher = make(archive.url, timeout=0.3)
    with pytest.raises(user.timed_out, match="timed out"):
        await asyncio.wait_for(fetcher.fetch(f"{archive.url}/silent"), timeout=20)
    assert [seen.path for seen in archive.seen] == ["/silent"]


async def test_a_server_that_never_accepts_is_bounded_by_the_connect_timeout(
    unaccepted_url: str, make: MakeFetcher, user: User
) -> None:
    fetcher = make(None, timeout=0.3)
    with pytest.raises(user.timed_out, match="timed out"):
        await asyncio.wait_for(fetcher.fetch(unaccepted_url), timeout=20)


# --- the client's own settings -------------------------------------------------------------


async def test_the_redirect_limit_is_a_setting(start_archive: StartArchive) -> None:
    archive = await start_archive()
    client = HttpClient(HttpSettings(max_redirects=2))
    try:
        with pytest.raises(ClientError, match=r"too many redirects .*\(limit 2\)"):
            await client.read(f"{archive.url}/loop")
    finally:
        await client.close()
    assert len(archive.seen) == 3


async def test_a_timeout_to_connect_says_so(unaccepted_url: str) -> None:
    client = HttpClient(HttpSettings(connect_timeout=0.3))
    try:
        with pytest.raises(ReadTimeoutError, match="timed out connecting to"):
            await asyncio.wait_for(client.read(unaccepted_url), timeout=20)
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("byte_exact", "asked", "body"),
    [(True, "identity", gzip.compress(DATA)), (False, "gzip", DATA)],
    # Named, not by their bytes: gzip stamps the time, and the two test processes must
    # collect the same ids.
    ids=["byte-exact", "decoding"],
)
async def test_byte_exact_clients_ask_for_identity_and_keep_the_bytes(
    start_archive: StartArchive, byte_exact: bool, asked: str, body: bytes
) -> None:
    archive = await start_archive()
    client = HttpClient(HttpSettings(byte_exact=byte_exact))
    try:
        got = await client.read(f"{archive.url}/gzip")
    finally:
        await client.close()
    # gzip.compress stamps the time: compare what was sent, not a second compression.
    assert (got == body) if not byte_exact else gzip.decompress(got) == DATA
    encoding = archive.seen[0].accept_encoding
    assert encoding is not None and asked in encoding


async def test_the_transport_default_is_byte_exact(start_archive: StartArchive) -> None:
    archive = await start_archive()
    transport = HttpTransport()
    try:
        async with transport.open(f"{archive.url}/gzip") as body:
            raw = b"".join([chunk async for chunk in body.chunks()])
    finally:
        await transport.close()
    assert raw != DATA and gzip.decompress(raw) == DATA
    assert archive.seen[0].accept_encoding == "identity"


@pytest.mark.parametrize("path", ["/endless", "/huge"])
async def test_read_keeps_at_most_max_answer_bytes_in_memory(
    start_archive: StartArchive, path: str
) -> None:
    # An endless listing once took 6.3 GiB of memory in 24 s.
    archive = await start_archive()
    client = HttpClient(HttpSettings(max_answer=256 * 1024))
    try:
        with pytest.raises(ClientError, match=r"larger than 256.0 KiB") as caught:
            await asyncio.wait_for(client.read(f"{archive.url}{path}"), timeout=20)
    finally:
        await client.close()
    assert "max_answer_size" in str(caught.value)


async def test_read_takes_an_answer_up_to_max_answer_bytes(start_archive: StartArchive) -> None:
    archive = await start_archive()
    client = HttpClient(HttpSettings(max_answer=len(DATA)))
    try:
        assert await client.read(f"{archive.url}/data") == DATA
    finally:
        await client.close()
