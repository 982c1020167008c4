"""MAST's invoke protocol against a loopback MAST: the request's form, EXECUTING polled within
bounds, paging until the last page, ERROR and unreadable answers as one-line SourceErrors."""

from __future__ import annotations

import pytest
from aiohttp import web
from tests.adapters.http.loopback import serve
from tests.adapters.mast.fake_mast import FakeMast, observation
from tests.adapters.mast.fixtures import Sleeps, StartMast

from skyhaul.adapters.mast import Filter, InvokeLimits, MastClient
from skyhaul.errors import SourceError

BY_ID = [Filter("obs_id", ("a", "b", "c", "d", "e"))]


def _five(fake: FakeMast) -> None:
    fake.observations = [observation(i, name) for i, name in enumerate("abcde", start=1)]


async def test_a_query_posts_the_documented_request(fake: FakeMast, mast: StartMast) -> None:
    _five(fake)
    client = await mast()
    found = await client.filtered([Filter("obs_id", ("c",))])
    assert [o.obs_id for o in found] == ["c"]
    (request,) = fake.invokes
    assert request["service"] == "Mast.Caom.Filtered"
    assert request["format"] == "json"
    assert (request["page"], request["pagesize"]) == (1, 50_000)
    assert isinstance(request["cacheBreaker"], str) and request["cacheBreaker"]
    assert request["params"] == {
        "columns": "*",
        "filters": [{"paramName": "obs_id", "values": ["c"]}],
    }


async def test_executing_answers_are_polled_again(
    fake: FakeMast, mast: StartMast, sleeps: Sleeps
) -> None:
    _five(fake)
    fake.executing = 2
    client = await mast(InvokeLimits(poll_delay=0.25))
    found = await client.filtered(BY_ID)
    assert len(found) == 5
    assert len(fake.invokes) == 3
    assert sleeps.waits == [0.25, 0.25]
    # The same request again: a poll is not a new query.
    assert len({str(r["page"]) + str(r["service"]) for r in fake.invokes}) == 1


async def test_polls_are_bounded_in_count(fake: FakeMast, mast: StartMast) -> None:
    _five(fake)
    fake.executing = 100
    client = await mast(InvokeLimits(max_polls=3))
    with pytest.raises(
        SourceError, match=r"^MAST Mast.Caom.Filtered: still executing after 3 polls"
    ):
        await client.filtered(BY_ID)
    assert len(fake.invokes) == 4


async def test_polls_are_bounded_in_time(fake: FakeMast, mast: StartMast, sleeps: Sleeps) -> None:
    _five(fake)
    fake.executing = 100
    client = await mast(InvokeLimits(poll_delay=10.0, max_seconds=35.0))
    with pytest.raises(SourceError, match=r"still executing after 30 s \(limit 35 s\)"):
        await client.filtered(BY_ID)
    assert sum(sleeps.waits) <= 35.0


async def test_every_page_is_read(fake: FakeMast, mast: StartMast) -> None:
    _five(fake)
    client = await mast(InvokeLimits(page_size=2))
    found = await client.filtered(BY_ID)
    assert [o.obs_id for o in found] == list("abcde")
    assert [r["page"] for r in fake.invokes] == [1, 2, 3]
    assert all("_selected_" not in o.record for o in found)


async def test_pages_are_bounded(fake: FakeMast, mast: StartMast) -> None:
    _five(fake)
    client = await mast(InvokeLimits(page_size=1, max_pages=3))
    with pytest.raises(SourceError, match="more than 3 pages of 1 rows; narrow the query"):
        await client.filtered(BY_ID)
    assert len(fake.invokes) == 3


async def test_a_page_not_echoed_fails_rather_than_loops(fake: FakeMast, mast: StartMast) -> None:
    _five(fake)
    fake.wrong_page = True
    client = await mast(InvokeLimits(page_size=2))
    with pytest.raises(SourceError, match="asked for page 2, got page 1"):
        await client.filtered(BY_ID)


async def test_an_error_names_the_service_and_mast_message(fake: FakeMast, mast: StartMast) -> None:
    fake.error = "Invalid filter:\n  column 'foo' unknown"
    client = await mast()
    with pytest.raises(SourceError) as caught:
        await client.filtered(BY_ID)
    assert str(caught.value) == "MAST Mast.Caom.Filtered: Invalid filter: column 'foo' unknown"
    assert caught.value.exit_code == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"<html>maintenance</html>", "the answer is not JSON"),
        (b"[1, 2]", "the answer is not a JSON object"),
        (b'{"status": "COMPLETE", "data": [1, 2]}', "'data' is not a list of objects"),
        (
            b'{"status": "COMPLETE", "data": [], "paging": {"page": "x"}}',
            "'paging' holds no page numbers",
        ),
    ],
)
async def test_unreadable_answers_are_source_errors(
    fake: FakeMast, mast: StartMast, raw: bytes, reason: str
) -> None:
    fake.raw_answer = raw
    client = await mast()
    with pytest.raises(SourceError, match=rf"^MAST Mast.Caom.Filtered: {reason}"):
        await client.filtered(BY_ID)


async def test_server_errors_are_retried_then_reported(sleeps: Sleeps) -> None:
    calls = []

    async def failing(request: web.Request) -> web.Response:
        calls.append(request.method)
        return web.Response(status=502, text="bad gateway")

    app = web.Application()
    app.router.add_post("/api/v0/invoke", failing)
    runner, url = await serve(app)
    client = MastClient(url, attempts=3, sleep=sleeps, clock=sleeps.clock, rand=lambda: 0.5)
    try:
        with pytest.raises(
            SourceError, match=r"^MAST Mast.Caom.Filtered: HTTP 502 from .* \(after 3 tries\)$"
        ):
            await client.filtered(BY_ID)
    finally:
        await client.aclose()
        await runner.cleanup()
    assert calls == ["POST"] * 3
    assert len(sleeps.waits) == 2


async def test_an_unreachable_mast_is_a_source_error(sleeps: Sleeps) -> None:
    client = MastClient("http://127.0.0.1:9", attempts=2, sleep=sleeps, rand=lambda: 0.5)
    try:
        with pytest.raises(SourceError, match=r"^MAST Mast.Caom.Cone: cannot connect to"):
            await client.cone(10.0, 20.0, 0.05)
    finally:
        await client.aclose()


async def test_a_client_error_is_not_retried(sleeps: Sleeps) -> None:
    calls = []

    async def refusing(request: web.Request) -> web.Response:
        calls.append(1)
        return web.Response(status=400, text="bad request")

    app = web.Application()
    app.router.add_post("/api/v0/invoke", refusing)
    runner, url = await serve(app)
    client = MastClient(url, sleep=sleeps)
    try:
        with pytest.raises(SourceError, match="HTTP 400"):
            await client.filtered(BY_ID)
    finally:
        await client.aclose()
        await runner.cleanup()
    assert calls == [1]
