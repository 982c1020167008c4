"""The sim source against a real simulator on loopback, and against a crafted listing API
that returns what a hostile or broken archive might."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from skyhaul.adapters.config import SourceConfig
from skyhaul.adapters.sources import SOURCE_TYPES, ListingQuery, Source, build_source
from skyhaul.adapters.sources.sim import SimSource
from skyhaul.core.model import FileSpec
from skyhaul.core.window import TimeWindow
from skyhaul.errors import ConfigError, ListingEntryError, SourceAuthError, SourceError
from skyhaul.sim import FaultConfig, ListedFile, SimConfig, SimThread, profile

NAME = "solo"
# Edges fall on no file's times in the ``small`` archive (whole seconds, not on the hour).
MIDDLE = TimeWindow(datetime(2024, 3, 1, 12, tzinfo=UTC), datetime(2024, 3, 2, 18, tzinfo=UTC))


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimThread]:
    config = SimConfig(archive=profile("small"), root=tmp_path_factory.mktemp("sim-cache"))
    with SimThread(config) as running:
        yield running


def config(options: dict[str, Any], base_dir: Path) -> SourceConfig:
    return SourceConfig(
        name=NAME,
        type="sim",
        options=options,
        dest=base_dir / "data" / NAME,
        base_dir=base_dir,
        where=f"{base_dir / 'skyhaul.toml'}: sources.{NAME}",
    )


MakeSource = Callable[..., Source]


@pytest.fixture
async def make_source(tmp_path: Path) -> AsyncIterator[MakeSource]:
    """Build sim sources through the registry; all are closed after the test."""
    built: list[Source] = []

    def make(url: str, environ: dict[str, str] | None = None, **options: Any) -> Source:
        source = build_source(config({"url": url, **options}, tmp_path), environ=environ or {})
        built.append(source)
        return source

    yield make
    for source in built:
        await source.aclose()


def expected_spec(listed: ListedFile) -> FileSpec:
    """What the source must say of a file, from the simulator's own listing."""
    file = listed.version.file
    return FileSpec(
        url=listed.url,
        path=listed.path,
        size=listed.size,
        checksum=f"sha256:{listed.sha256}",
        source=NAME,
        instrument=file.instrument,
        obs_start=file.obs_start,
        obs_end=file.obs_end,
        downlink_time=file.downlink_time,
        slot=file.slot,
        version=listed.version.etag,
    )


def by_path(specs: list[FileSpec]) -> dict[str, FileSpec]:
    paths = [spec.path for spec in specs]
    assert len(set(paths)) == len(paths), "a file listed twice"
    return {spec.path: spec for spec in specs}


# --- listing a real simulator ----------------------------------------------------------------


def test_registry_builds_a_sim_source(sim: SimThread, tmp_path: Path) -> None:
    source = build_source(config({"url": sim.base_url, "instrument": "EUI"}, tmp_path))
    assert isinstance(source, SimSource)
    assert source.name == NAME and source.instrument == "EUI"
    assert repr(source) == f"SimSource('{NAME}', '{sim.base_url.rstrip('/')}')"


async def test_observation_window_lists_the_overlapping_files(
    sim: SimThread, make_source: MakeSource
) -> None:
    specs = await make_source(sim.base_url).list_files(ListingQuery(MIDDLE))
    archive = sim.files
    expected = {
        f.path: expected_spec(f)
        for f in archive
        if MIDDLE.overlaps(f.version.file.obs_start, f.version.file.obs_end)
    }
    assert 0 < len(expected) < len(archive)
    assert by_path(specs) == expected


async def test_downlink_window_lists_the_files_downlinked_in_it(
    sim: SimThread, make_source: MakeSource
) -> None:
    query = ListingQuery(MIDDLE, by="downlink")
    specs = await make_source(sim.base_url).list_files(query)
    archive = sim.files
    expected = {
        f.path: expected_spec(f) for f in archive if MIDDLE.contains(f.version.file.downlink_time)
    }
    by_observation = {
        f.path for f in archive if MIDDLE.overlaps(f.version.file.obs_start, f.version.file.obs_end)
    }
    assert 0 < len(expected) < len(archive)
    assert set(expected) != by_observation  # the two bases really differ here
    assert by_path(specs) == expected


async def test_whole_archive_window_lists_every_file(
    sim: SimThread, make_source: MakeSource
) -> None:
    everything = TimeWindow.parse("2024-02-01", "2024-04-01")
    specs = await make_source(sim.base_url).list_files(ListingQuery(everything))
    assert by_path(specs) == {f.path: expected_spec(f) for f in sim.files}
    assert all(spec.checksum is not None and spec.checksum.startswith("sha256:") for spec in specs)
    assert all(spec.version is not None and spec.version.startswith('"') for spec in specs)
    assert {spec.source for spec in specs} == {NAME}


async def test_window_with_no_files_lists_none(sim: SimThread, make_source: MakeSource) -> None:
    source = make_source(sim.base_url)
    assert await source.list_files(ListingQuery(TimeWindow.parse("2030-01-01", "2030-01-02"))) == []


async def test_instrument_filter_is_case_insensitive(
    sim: SimThread, make_source: MakeSource
) -> None:
    everything = TimeWindow.parse("2024-02-01", "2024-04-01")
    specs = await make_source(sim.base_url).list_files(ListingQuery(everything, instrument="eui"))
    expected = {f.path for f in sim.files if f.version.file.instrument == "EUI"}
    assert expected and set(by_path(specs)) == expected
    assert {spec.instrument for spec in specs} == {"EUI"}


async def test_default_instrument_applies_when_the_query_names_none(
    sim: SimThread, make_source: MakeSource
) -> None:
    everything = TimeWindow.parse("2024-02-01", "2024-04-01")
    source = make_source(sim.base_url, instrument="PHI")
    assert {s.instrument for s in await source.list_files(ListingQuery(everything))} == {"PHI"}
    named = await source.list_files(ListingQuery(everything, instrument="METIS"))
    assert {s.instrument for s in named} == {"METIS"}


async def test_version_follows_the_archives_etag(sim: SimThread, make_source: MakeSource) -> None:
    everything = ListingQuery(TimeWindow.parse("2024-02-01", "2024-04-01"))
    source = make_source(sim.base_url)
    before = by_path(await source.list_files(everything))
    path = sorted(before)[0]
    changed = sim.change_file(path)
    after = by_path(await source.list_files(everything))
    assert after[path].version == changed.version.etag != before[path].version
    assert after[path].checksum == f"sha256:{changed.sha256}" != before[path].checksum
    assert {p: s for p, s in after.items() if p != path} == {
        p: s for p, s in before.items() if p != path
    }


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (404, SourceError, r"/api/files\?.* not found \(404\)"),
        (403, SourceAuthError, r"HTTP 403 from .*/api/files\?.*check the source's credentials"),
    ],
)
async def test_refused_listing_is_a_source_error(
    sim: SimThread, make_source: MakeSource, status: int, error: type[Exception], message: str
) -> None:
    sim.set_faults(FaultConfig(faults_on_api=True, fail_paths={"/api/files": status}))
    try:
        with pytest.raises(error, match=rf"^source {NAME}: .*{message}"):
            await make_source(sim.base_url).list_files(ListingQuery(MIDDLE))
    finally:
        sim.set_faults(FaultConfig())


async def test_a_listing_larger_than_max_answer_size_fails_the_listing(
    sim: SimThread, make_source: MakeSource
) -> None:
    source = make_source(sim.base_url, max_answer_size="1KiB")
    with pytest.raises(SourceError, match=r"larger than 1.0 KiB \(the source's max_answer_size\)"):
        await source.list_files(ListingQuery(MIDDLE))


async def test_max_wait_bounds_what_a_listing_waits_for(
    sim: SimThread, make_source: MakeSource
) -> None:
    sim.set_faults(FaultConfig(faults_on_api=True, rate_limit=0.01, retry_after=60))
    try:
        source = make_source(sim.base_url, max_wait="30s")
        await source.list_files(ListingQuery(MIDDLE))  # the one token
        with pytest.raises(SourceError, match=r"longer than the 30s a run waits"):
            await source.list_files(ListingQuery(MIDDLE))
    finally:
        sim.set_faults(FaultConfig())


# --- building from options -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "http://x", "instrumnet": "EUI"}, "unknown option 'instrumnet' (known: "),
        ({}, "'url' is required"),
        ({"url": "ftp://x/"}, "'url' must be an http(s) URL"),
        ({"url": "http://x", "concurrency": 0}, "'concurrency' must be at least 1"),
        ({"url": "http://x", "timeout": "slow"}, "'timeout' must be a number"),
        ({"url": "http://x", "max_answer_size": "lots"}, "'max_answer_size' must be a size"),
        ({"url": "http://x", "max_answer_size": 0}, "'max_answer_size' must be more than 0"),
        ({"url": "http://x", "max_wait": "forever"}, "'max_wait' must be a duration"),
        ({"url": "http://x", "token_env": "SOLO_TOKEN"}, "SOLO_TOKEN is not set"),
        ({"url": "http://x", "token": "abc"}, "'token' must not be written in the configuration"),
    ],
)
def test_bad_options_are_config_errors(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_source(config(options, tmp_path), environ={})
    assert str(caught.value).startswith(f"{tmp_path / 'skyhaul.toml'}: sources.{NAME}: ")
    assert message in str(caught.value)


def test_unknown_type_is_a_config_error(tmp_path: Path) -> None:
    bad = SourceConfig(
        name=NAME, type="ftp", options={}, dest=tmp_path, base_dir=tmp_path, where="x: sources.s"
    )
    with pytest.raises(ConfigError) as caught:
        build_source(bad)
    known = ", ".join(sorted([*SOURCE_TYPES, "records-api"]))
    assert str(caught.value) == f"x: sources.s: unknown type 'ftp' (known: {known})"
    assert "sim" in SOURCE_TYPES


def test_a_records_api_source_is_not_a_file_source(tmp_path: Path) -> None:
    records = SourceConfig(
        name=NAME, type="records-api", options={}, dest=tmp_path, base_dir=tmp_path, where="x"
    )
    with pytest.raises(ConfigError, match="skyhaul backfill"):
        build_source(records)


async def test_source_is_an_async_context_manager(sim: SimThread, tmp_path: Path) -> None:
    async with build_source(config({"url": sim.base_url}, tmp_path)) as source:  # type: ignore[attr-defined]
        assert await source.list_files(ListingQuery(MIDDLE))


# --- a crafted listing API -------------------------------------------------------------------


StartApi = Callable[[Any], Awaitable[str]]


@pytest.fixture
async def crafted_api() -> AsyncIterator[tuple[StartApi, list[dict[str, str]]]]:
    """Serve a fixed document at /api/files; record each request's query."""
    queries: list[dict[str, str]] = []
    runners: list[web.AppRunner] = []

    async def start(document: Any) -> str:
        async def files(request: web.Request) -> web.Response:
            queries.append(dict(request.query))
            return web.json_response(document)

        app = web.Application()
        app.router.add_get("/api/files", files)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}/"

    yield start, queries
    for runner in runners:
        await runner.cleanup()


def entry(**fields: Any) -> dict[str, Any]:
    base = {
        "url": "http://127.0.0.1/files/raw/EUI/20240301/a.fits",
        "path": "raw/EUI/20240301/a.fits",
        "size": 2880,
        "checksum": "sha256:" + "ab" * 32,
        "instrument": "EUI",
        "obs_start": "2024-03-01T12:00:00Z",
        "obs_end": "2024-03-01T12:00:10Z",
        "downlink_time": "2024-03-01T14:00:00Z",
        "slot": "20240301-CEB",
        "etag": '"v1"',
    }
    base.update(fields)
    return base


async def test_query_parameters_sent_to_the_api(crafted_api, make_source: MakeSource) -> None:
    start, queries = crafted_api
    url = await start([entry()])
    source = make_source(url, instrument="EUI")
    await source.list_files(ListingQuery(MIDDLE))
    await source.list_files(ListingQuery(MIDDLE, instrument="PHI", by="downlink"))
    assert queries == [
        {
            "start": "2024-03-01T12:00:00Z",
            "end": "2024-03-02T18:00:00Z",
            "by": "observation",
            "instrument": "EUI",
        },
        {
            "start": "2024-03-01T12:00:00Z",
            "end": "2024-03-02T18:00:00Z",
            "by": "downlink",
            "instrument": "PHI",
        },
    ]


async def test_missing_values_stay_unknown(crafted_api, make_source: MakeSource) -> None:
    start, _ = crafted_api
    sparse = {"url": "http://127.0.0.1/files/a.fits", "path": "a.fits", "size": None, "obs_end": ""}
    [spec] = await make_source(await start([sparse])).list_files(ListingQuery(MIDDLE))
    assert spec == FileSpec(url="http://127.0.0.1/files/a.fits", path="a.fits", source=NAME)


async def test_path_is_normalised(crafted_api, make_source: MakeSource) -> None:
    start, _ = crafted_api
    url = await start([entry(path="raw//EUI/./a.fits")])
    [spec] = await make_source(url).list_files(ListingQuery(MIDDLE))
    assert spec.path == "raw/EUI/a.fits"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param(
            [entry(path="../../etc/x")],
            "item 0: unsafe destination path '../../etc/x'",
            id="parent escape",
        ),
        pytest.param(
            [entry(), entry(path="/etc/passwd")],
            "item 1: unsafe destination path '/etc/passwd'",
            id="absolute",
        ),
        pytest.param([entry(path="raw/..\\..\\x")], "item 0: unsafe", id="backslash escape"),
        pytest.param([entry(path="")], "item 0: unsafe destination path", id="no path"),
        pytest.param({"files": []}, "is not a JSON list", id="not a list"),
        pytest.param(["raw/a.fits"], "item 0: not a file entry", id="not an object"),
        pytest.param([entry(url=None)], "item 0: not a file entry", id="no url"),
        pytest.param([entry(size=-1)], "item 0: size must be a non-negative integer", id="size"),
        pytest.param([entry(size="12")], "item 0: size must be", id="size as text"),
        pytest.param([entry(obs_start="noon")], "item 0: 'noon' is not an ISO 8601", id="time"),
    ],
)
async def test_hostile_or_broken_listing_is_a_source_error(
    crafted_api, make_source: MakeSource, document: Any, message: str
) -> None:
    start, _ = crafted_api
    url = await start(document)
    with pytest.raises(SourceError) as caught:
        await make_source(url).list_files(ListingQuery(MIDDLE))
    text = str(caught.value)
    assert text.startswith(f"source {NAME}: {url}")
    assert message in text
    assert "\n" not in text


def other(**fields: Any) -> dict[str, Any]:
    return entry(url="http://127.0.0.1/files/b.fits", path="b.fits") | fields


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param(
            [entry(instrument={"name": "EUI"})],
            "item 0: instrument must be text, got an object",
            id="instrument object",
        ),
        pytest.param([entry(slot=["a"])], "item 0: slot must be text, got a list", id="slot list"),
        pytest.param([entry(etag={"v": 1})], "item 0: etag must be text", id="etag object"),
        pytest.param(
            [entry(), other(checksum="sha256:zz")],
            "item 1: invalid checksum 'sha256:zz'",
            id="checksum not hex",
        ),
        pytest.param(
            [entry(size=2**63)],
            "item 0: size 9223372036854775808 is more than 9223372036854775807 bytes",
            id="size 2**63",
        ),
        pytest.param(
            [entry(url="http://[::1/x")],
            "item 0: URL 'http://[::1/x' is not valid: Invalid IPv6 URL",
            id="url",
        ),
        pytest.param(
            [entry(mirrors=["s3://bucket"])],
            "item 0: mirrors: URL 's3://bucket' is not s3://BUCKET/KEY",
            id="mirror",
        ),
        pytest.param(
            [entry(path="raw/" + "n" * 300)],
            "item 0: path 'raw/nnnnnnnnnnnnnnnnnnnnnnnnnnnn…': a file name of 300 bytes",
            id="long name",
        ),
        pytest.param(
            [other(path="raw/EUI"), entry()],
            "item 1: path 'raw/EUI/20240301/a.fits' clashes with 'raw/EUI' of item 0:",
            id="a path below another file",
        ),
        pytest.param(
            [entry(obs_start="9999-12-31T24:00")],
            "item 0: '9999-12-31T24:00' is after 9999-12-31T23:59:59.999999Z",
            id="time past the calendar",
        ),
    ],
)
async def test_an_entry_no_run_could_use_is_a_usage_error(
    crafted_api, make_source: MakeSource, document: Any, message: str
) -> None:
    start, _ = crafted_api
    url = await start(document)
    with pytest.raises(ListingEntryError) as caught:
        await make_source(url).list_files(ListingQuery(MIDDLE))
    text = str(caught.value)
    assert text.startswith(f"source {NAME}: {url}")
    assert message in text
    assert "\n" not in text
    assert isinstance(caught.value, SourceError)
    assert caught.value.exit_code == 2


# --- several URLs per file ---------------------------------------------------------------------


@pytest.fixture
async def listing_with_mirrors() -> AsyncIterator[str]:
    """A JSON listing in the simulator's shape whose file has two mirrors."""
    entry = {
        "url": "s3://bucket/raw/a.fits",
        "path": "raw/a.fits",
        "size": 2880,
        "mirrors": ["https://one.example/raw/a.fits", "https://two.example/raw/a.fits"],
    }

    async def files(request: web.Request) -> web.Response:
        return web.json_response([entry])

    app = web.Application()
    app.router.add_get("/api/files", files)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/"
    await runner.cleanup()


async def test_a_listing_can_give_several_urls_per_file(
    listing_with_mirrors: str, make_source: MakeSource
) -> None:
    [spec] = await make_source(listing_with_mirrors).list_files(ListingQuery(MIDDLE))
    assert spec.urls == (
        "s3://bucket/raw/a.fits",
        "https://one.example/raw/a.fits",
        "https://two.example/raw/a.fits",
    )
