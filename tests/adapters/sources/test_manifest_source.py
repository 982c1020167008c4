"""The manifest source: a manifest file, or one fetched from Python's http.server on
loopback, filtered by instrument and by observation or downlink window."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from tests.loopback_http import LoopbackHTTPServer

from skyhaul.adapters.config import SourceConfig
from skyhaul.adapters.sources import ListingQuery, Source, build_source
from skyhaul.adapters.sources.manifest import ManifestSource
from skyhaul.core.window import TimeWindow
from skyhaul.errors import (
    ConfigError,
    ListingEntryError,
    ManifestError,
    PathEscapeError,
    SourceError,
)

NAME = "eui-l1"
SECRET = "mf-secret-77"
HEADER = "url,path,size,checksum,instrument,obs_start,obs_end,downlink_time,slot"
WINDOW = TimeWindow(datetime(2024, 3, 1, 10, tzinfo=UTC), datetime(2024, 3, 1, 12, tzinfo=UTC))

# name, instrument, obs_start, obs_end, downlink_time (times on 2024-03-01 unless dated)
ROWS = [
    ("across_start", "EUI", "09:00", "10:30", "09:59:59"),
    ("inside", "EUI", "10:15", "10:45", "10:00"),
    ("across_end", "PHI", "11:30", "12:30", "12:00"),
    ("containing", "", "09:00", "13:00", "11:59:59"),
    ("ends_at_start", "EUI", "09:00", "10:00", "13:00"),
    ("starts_at_end", "EUI", "12:00", "12:10", ""),
    ("instant_at_start", "PHI", "10:00", "", ""),
    ("instant_at_end", "EUI", "12:00", "", ""),
    ("untimed", "", "", "", ""),
    ("next_day", "EUI", "2024-03-02T10:30", "2024-03-02T10:40", "2024-03-02T11:00"),
]
BY_OBSERVATION = [
    "across_start",
    "inside",
    "across_end",
    "containing",
    "instant_at_start",
    "untimed",
]
BY_DOWNLINK = [
    "inside",
    "containing",
    "starts_at_end",
    "instant_at_start",
    "instant_at_end",
    "untimed",
]


def _time(text: str) -> str:
    if not text:
        return ""
    return text + "Z" if "T" in text else f"2024-03-01T{text}Z"


def manifest_csv(base: str = "https://archive.example/eui") -> str:
    lines = [HEADER]
    for name, instrument, start, end, downlink in ROWS:
        cells = [f"{base}/{name}.fits", f"l1/{name}.fits", "2880", "", instrument]
        lines.append(",".join([*cells, _time(start), _time(end), _time(downlink), ""]))
    return "\n".join(lines) + "\n"


def names(specs: list[Any]) -> list[str]:
    return [spec.path.removeprefix("l1/").removesuffix(".fits") for spec in specs]


def source_config(options: dict[str, Any], base_dir: Path) -> SourceConfig:
    return SourceConfig(
        name=NAME,
        type="manifest",
        options=options,
        dest=base_dir / "data" / NAME,
        base_dir=base_dir,
        where=f"skyhaul.toml: sources.{NAME}",
    )


MakeSource = Callable[..., Source]


@pytest.fixture
async def make_source(tmp_path: Path) -> AsyncIterator[MakeSource]:
    """Build manifest sources through the registry; all are closed after the test."""
    built: list[Source] = []

    def make(environ: dict[str, str] | None = None, **options: Any) -> Source:
        source = build_source(source_config(options, tmp_path), environ=environ or {})
        built.append(source)
        return source

    yield make
    for source in built:
        await source.aclose()


@pytest.fixture
def manifest_file(tmp_path: Path) -> Path:
    """The test manifest, at ``lists/eui.csv`` under the configuration's directory."""
    path = tmp_path / "lists" / "eui.csv"
    path.parent.mkdir()
    path.write_text(manifest_csv(), encoding="utf-8")
    return path


async def rewrite(path: Path, text: str) -> None:
    """Replace a file's content without blocking the event loop."""
    await asyncio.to_thread(path.write_text, text, encoding="utf-8")


class RecordingHandler(SimpleHTTPRequestHandler):
    """Serves a directory; records each request's path and Authorization header."""

    def __init__(self, *args: Any, seen: list[tuple[str, str | None]], **kwargs: Any) -> None:
        self.seen = seen
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Served:
    """A directory served over HTTP on loopback."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: list[tuple[str, str | None]] = []
        handler = partial(RecordingHandler, directory=str(root), seen=self.seen)
        self.server = LoopbackHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def put(self, name: str, text: str) -> str:
        (self.root / name).write_text(text, encoding="utf-8")
        return f"{self.url}/{name}"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    root = tmp_path / "www"
    root.mkdir()
    running = Served(root)
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()
    running.thread.join()


# --- a manifest file -------------------------------------------------------------------------


def test_registry_builds_a_file_source_relative_to_the_config(
    manifest_file: Path, tmp_path: Path
) -> None:
    source = build_source(source_config({"path": "lists/eui.csv"}, tmp_path))
    assert isinstance(source, ManifestSource)
    assert source.path == manifest_file
    assert source.url is None
    assert repr(source) == f"ManifestSource('{NAME}', '{manifest_file}')"


async def test_observation_window_keeps_overlapping_and_untimed_rows(
    manifest_file: Path, make_source: MakeSource
) -> None:
    specs = await make_source(path="lists/eui.csv").list_files(ListingQuery(WINDOW))
    assert names(specs) == BY_OBSERVATION
    assert {spec.source for spec in specs} == {NAME}
    assert specs[0].url == "https://archive.example/eui/across_start.fits"
    assert specs[0].size == 2880
    assert specs[0].obs_start == datetime(2024, 3, 1, 9, tzinfo=UTC)


async def test_downlink_window_keeps_rows_downlinked_in_it_and_rows_without_a_time(
    manifest_file: Path, make_source: MakeSource
) -> None:
    query = ListingQuery(WINDOW, by="downlink")
    specs = await make_source(path="lists/eui.csv").list_files(query)
    assert names(specs) == BY_DOWNLINK


async def test_instrument_filter_keeps_rows_without_an_instrument(
    manifest_file: Path, make_source: MakeSource
) -> None:
    query = ListingQuery(WINDOW, instrument="eui")
    specs = await make_source(path="lists/eui.csv").list_files(query)
    assert names(specs) == ["across_start", "inside", "containing", "untimed"]


async def test_default_instrument_fills_rows_without_one(
    manifest_file: Path, make_source: MakeSource
) -> None:
    source = make_source(path="lists/eui.csv", instrument="SPICE")
    specs = await source.list_files(ListingQuery(WINDOW))
    instruments = dict(zip(names(specs), (s.instrument for s in specs), strict=True))
    assert instruments == {
        "across_start": "EUI",
        "inside": "EUI",
        "across_end": "PHI",
        "containing": "SPICE",
        "instant_at_start": "PHI",
        "untimed": "SPICE",
    }
    # Filled in, the default instrument is filtered like any other.
    eui = await source.list_files(ListingQuery(WINDOW, instrument="EUI"))
    assert names(eui) == ["across_start", "inside"]


async def test_the_file_is_read_again_on_every_listing(
    manifest_file: Path, make_source: MakeSource
) -> None:
    source = make_source(path="lists/eui.csv")
    assert len(await source.list_files(ListingQuery(WINDOW))) == len(BY_OBSERVATION)
    late = f"{HEADER}\nhttps://archive.example/eui/late.fits,l1/late.fits,,,,2024-03-01T11:00Z,,,\n"
    await rewrite(manifest_file, late)
    assert names(await source.list_files(ListingQuery(WINDOW))) == ["late"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{HEADER}\nhttps://a.example/x,x,,,,yesterday,,,\n", "eui.csv:2: obs_start 'yesterday'"),
        (f"{HEADER}\nftp://a.example/x,x,,,,,,,\n", "eui.csv:2: 'ftp://a.example/x' is not an"),
        ("path,size\nx,1\n", "eui.csv:1: the header has no 'url' column"),
        (f"{HEADER}\n", "eui.csv: no files listed"),
    ],
)
async def test_malformed_manifest_file_is_a_manifest_error(
    manifest_file: Path, make_source: MakeSource, text: str, message: str
) -> None:
    await rewrite(manifest_file, text)
    with pytest.raises(ManifestError) as caught:
        await make_source(path="lists/eui.csv").list_files(ListingQuery(WINDOW))
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(manifest_file))


async def test_missing_manifest_file_is_a_manifest_error(
    tmp_path: Path, make_source: MakeSource
) -> None:
    with pytest.raises(ManifestError, match="no such file"):
        await make_source(path="lists/gone.csv").list_files(ListingQuery(WINDOW))


async def test_hostile_path_in_a_manifest_file_is_refused(
    manifest_file: Path, make_source: MakeSource
) -> None:
    await rewrite(manifest_file, f"{HEADER}\nhttps://a.example/x,../../etc/x,,,,,,,\n")
    with pytest.raises(PathEscapeError, match=r"eui.csv:2: .*'\.\./\.\./etc/x'"):
        await make_source(path="lists/eui.csv").list_files(ListingQuery(WINDOW))


# --- a manifest at a URL ---------------------------------------------------------------------


async def test_manifest_at_a_url_is_filtered_the_same(
    served: Served, make_source: MakeSource
) -> None:
    url = served.put("eui.csv", manifest_csv())
    source = make_source(url=url)
    assert names(await source.list_files(ListingQuery(WINDOW))) == BY_OBSERVATION
    downlink = await source.list_files(ListingQuery(WINDOW, by="downlink"))
    assert names(downlink) == BY_DOWNLINK
    assert [path for path, _ in served.seen] == ["/eui.csv", "/eui.csv"]  # fetched each time


async def test_json_manifest_at_a_url(served: Served, make_source: MakeSource) -> None:
    rows = [
        {"url": "https://a.example/in.fits", "obs_start": "2024-03-01T11:00:00Z"},
        {"url": "https://a.example/out.fits", "obs_start": "2024-03-01T09:00:00Z"},
        "https://a.example/untimed.fits",
    ]
    url = served.put("list.json", json.dumps({"files": rows}))
    specs = await make_source(url=url, instrument="EUI").list_files(ListingQuery(WINDOW))
    assert [(s.path, s.instrument) for s in specs] == [("in.fits", "EUI"), ("untimed.fits", "EUI")]


async def test_credentials_are_sent_with_the_manifest_request(
    served: Served, make_source: MakeSource
) -> None:
    url = served.put("eui.csv", manifest_csv())
    source = make_source(url=url, token_env="MF_TOKEN", environ={"MF_TOKEN": SECRET})
    await source.list_files(ListingQuery(WINDOW))
    assert served.seen == [("/eui.csv", f"Bearer {SECRET}")]


async def test_malformed_manifest_at_a_url_is_a_source_error(
    served: Served, make_source: MakeSource
) -> None:
    url = served.put("eui.csv", f"{HEADER}\nhttps://a.example/x,x,,,,yesterday,,,\n")
    with pytest.raises(SourceError) as caught:
        await make_source(url=f"{url}?token={SECRET}").list_files(ListingQuery(WINDOW))
    message = str(caught.value)
    assert not isinstance(caught.value, ManifestError)
    assert message.startswith(f"source {NAME}: {url}?token=REDACTED:2: obs_start 'yesterday'")
    assert SECRET not in message


async def test_missing_manifest_at_a_url_is_a_source_error(
    served: Served, make_source: MakeSource
) -> None:
    with pytest.raises(SourceError) as caught:
        await make_source(url=f"{served.url}/gone.csv?token={SECRET}").list_files(
            ListingQuery(WINDOW)
        )
    message = str(caught.value)
    assert (
        message == f"source {NAME}: manifest {served.url}/gone.csv?token=REDACTED not found (404)"
    )


async def test_hostile_path_in_a_manifest_at_a_url_is_a_source_error(
    served: Served, make_source: MakeSource
) -> None:
    url = served.put("eui.csv", f"{HEADER}\nhttps://a.example/x,../../etc/x,,,,,,,\n")
    with pytest.raises(SourceError, match=rf"^source {NAME}: .*'\.\./\.\./etc/x'"):
        await make_source(url=url).list_files(ListingQuery(WINDOW))


# --- building from options -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give exactly one of 'path' and 'url'"),
        ({"path": "a.csv", "url": "https://a.example/m.csv"}, "give exactly one of"),
        ({"path": "a.csv", "pth": "b"}, "unknown option 'pth'"),
        ({"path": 3}, "'path' must be a string"),
        ({"url": "file:///etc/m.csv"}, "'url' must be an http(s) URL"),
        ({"url": "https://a.example/m.csv", "token_env": "MF_TOKEN"}, "MF_TOKEN is not set"),
    ],
)
def test_bad_options_are_config_errors(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_source(source_config(options, tmp_path), environ={})
    assert str(caught.value).startswith(f"skyhaul.toml: sources.{NAME}: ")
    assert message in str(caught.value)


async def test_source_is_an_async_context_manager(manifest_file: Path, tmp_path: Path) -> None:
    config = source_config({"path": "lists/eui.csv"}, tmp_path)
    async with build_source(config) as source:  # type: ignore[attr-defined]
        assert await source.list_files(ListingQuery(WINDOW))


async def test_a_row_no_run_could_use_at_a_url_is_an_input_error(
    served: Served, make_source: MakeSource
) -> None:
    url = served.put("eui.csv", f"{HEADER}\nhttp://[::1/x,x,,,,,,,\n")
    with pytest.raises(ListingEntryError) as caught:
        await make_source(url=url).list_files(ListingQuery(WINDOW))
    assert str(caught.value) == (
        f"source {NAME}: {url}:2: URL 'http://[::1/x' is not valid: Invalid IPv6 URL"
    )
    assert caught.value.exit_code == 2
