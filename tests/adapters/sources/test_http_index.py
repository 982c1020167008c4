"""The http-index source against real servers on loopback: Python's http.server serving a
directory tree, and a handler serving saved Apache and nginx listing pages."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from tests.loopback_http import LoopbackHTTPServer

from skyhaul.adapters.pages import PageClient
from skyhaul.adapters.sources import ListingQuery
from skyhaul.adapters.sources.base import SourceContext
from skyhaul.adapters.sources.http_index import (
    HttpIndexSource,
    http_index_source,
    read_settings,
)
from skyhaul.core.model import FileSpec
from skyhaul.core.window import TimeWindow
from skyhaul.errors import ConfigError, SourceAuthError, SourceError

FIXTURES = Path(__file__).parent / "fixtures"
LASCO = "pub/lasco/level_05"
IMG_HDR = """\
22812345.fts 2024/03/01 00:12:05.450   C2  25.1  1024 1024  Orange Clear
22812346.fts 2024/03/01 00:24:05.450   C2  25.1  1024 1024  Orange Clear
22899999.fts 2024/03/01 00:36:05.450   C2  25.1  1024 1024  Orange Clear
"""
INDEX_OPTIONS: dict[str, Any] = {
    "index_file": "img_hdr.txt",
    "index_header": False,
    "index_columns": {"name": 0, "date": 1, "time": 2, "instrument": 3, "exposure": 4},
    "index_time_format": "%Y/%m/%d %H:%M:%S.%f",
}
EIT_TIME = (
    r"^efz(?P<year>\d{4})(?P<month>\d\d)(?P<day>\d\d)"
    r"\.(?P<hour>\d\d)(?P<minute>\d\d)(?P<second>\d\d)"
)


def write(root: Path, relative: str, content: str = "x") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")


def build_tree(root: Path) -> None:
    day1 = f"{LASCO}/240301/c2"
    for name in ("22812345.fts", "22812346.fts", "notes.txt", "calib/dark.fts"):
        write(root, f"{day1}/{name}")
    write(root, f"{day1}/calib/older/flat.fts")
    write(root, f"{day1}/img_hdr.txt", IMG_HDR)
    write(root, f"{LASCO}/240302/c2/22812400.fts")
    write(root, f"{LASCO}/240302/c2/img_hdr.txt", "22812400.fts 2024/03/02 03:00:00.000 C2 20 1\n")
    # No 240303: that day's directory is missing (404).
    for name in ("efz20240301.120000.fts", "efz20240301.235900.fts"):
        write(root, f"pub/eit/2024/03/01/{name}")
    write(root, "pub/eit/2024/03/02/efz20240302.000100.fts")


class RecordingHandler(SimpleHTTPRequestHandler):
    """Serves a directory and records each request's path and Authorization header."""

    def __init__(self, *args: Any, seen: list[tuple[str, str | None]], **kwargs: Any) -> None:
        self.seen = seen
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class PageHandler(RecordingHandler):
    """Serves fixed pages by path; anything else is a 404 (or the status the page names)."""

    pages: Mapping[str, str | int] = {}

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        page = self.pages.get(self.path, 404)
        if isinstance(page, int):
            self.send_error(page)
            return
        body = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server:
    def __init__(self, handler: Callable[..., Any]) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.httpd = LoopbackHTTPServer(("127.0.0.1", 0), partial(handler, seen=self.seen))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "www"
    build_tree(root)
    server = Server(partial(RecordingHandler, directory=str(root)))
    yield server
    server.close()


@pytest.fixture
def pages() -> Iterator[Callable[[Mapping[str, str | int]], Server]]:
    servers: list[Server] = []

    def serve(content: Mapping[str, str | int]) -> Server:
        handler = type("Pages", (PageHandler,), {"pages": dict(content)})
        servers.append(Server(handler))
        return servers[-1]

    yield serve
    for server in servers:
        server.close()


def source(options: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> HttpIndexSource:
    context = SourceContext(
        name="lasco", base_dir=Path("."), environ=environ or {}, where="test.toml: sources.lasco"
    )
    return http_index_source(options, context)


def window(start: str, end: str) -> ListingQuery:
    return ListingQuery(TimeWindow.parse(start, end))


async def listing(options: Mapping[str, Any], query: ListingQuery) -> list[FileSpec]:
    async with source(options) as src:
        return await src.list_files(query)


def lasco(server: Server, **extra: Any) -> dict[str, Any]:
    return {"url": server.url + "/pub/lasco/level_05/{date:%y%m%d}/c2/", **extra}


def paths(specs: list[FileSpec]) -> list[str]:
    return [spec.path for spec in specs]


async def test_lists_the_days_of_the_window_and_skips_a_missing_day(tree: Server) -> None:
    specs = await listing(lasco(tree), window("2024-03-01", "2024-03-03"))
    assert paths(specs) == [
        "240301/c2/22812345.fts",
        "240301/c2/22812346.fts",
        "240301/c2/img_hdr.txt",
        "240301/c2/notes.txt",
        "240302/c2/22812400.fts",
        "240302/c2/img_hdr.txt",
    ]
    requested = sorted(path for path, _ in tree.seen)  # fetched concurrently
    assert requested == [f"/{LASCO}/{day}/c2/" for day in ("240301", "240302", "240303")]
    first = specs[0]
    assert first.url == f"{tree.url}/{LASCO}/240301/c2/22812345.fts"
    assert first.source == "lasco"
    assert first.size is None and first.version is None  # http.server shows neither


async def test_days_that_share_a_directory_list_it_once(tree: Server) -> None:
    options = lasco(tree, url=tree.url + "/pub/lasco/level_05/{date:%y%m}01/c2/")
    specs = await listing(options, window("2024-03-01", "2024-03-05"))
    assert len(specs) == 4 and len(tree.seen) == 1


async def test_a_url_without_date_is_listed_once(tree: Server) -> None:
    options = {"url": f"{tree.url}/{LASCO}/240302/c2"}  # the trailing / is added
    specs = await listing(options, window("2024-01-01", "2024-12-31"))
    assert paths(specs) == ["22812400.fts", "img_hdr.txt"]
    assert [path for path, _ in tree.seen] == [f"/{LASCO}/240302/c2/"]


async def test_glob_regex_and_exclude_filters(tree: Server) -> None:
    day = window("2024-03-01", "2024-03-01")
    assert paths(await listing(lasco(tree, include="*.fts"), day)) == [
        "240301/c2/22812345.fts",
        "240301/c2/22812346.fts",
    ]
    assert paths(await listing(lasco(tree, include=["*.txt"], exclude="img_*"), day)) == [
        "240301/c2/notes.txt"
    ]
    assert paths(await listing(lasco(tree, regex=r"6\.fts$"), day)) == ["240301/c2/22812346.fts"]
    both = lasco(tree, include="*.fts", regex="^2281234[5]")
    assert paths(await listing(both, day)) == ["240301/c2/22812345.fts"]


async def test_time_from_the_index_file(tree: Server) -> None:
    specs = await listing(lasco(tree, **INDEX_OPTIONS), window("2024-03-01", "2024-03-02"))
    by_name = {spec.path.rsplit("/", 1)[-1]: spec for spec in specs}
    start = datetime(2024, 3, 1, 0, 12, 5, 450000, tzinfo=UTC)
    assert by_name["22812345.fts"].obs_start == start
    assert by_name["22812345.fts"].obs_end == start + timedelta(seconds=25.1)
    assert by_name["22812345.fts"].instrument == "C2"
    assert by_name["22812400.fts"].obs_start == datetime(2024, 3, 2, 3, tzinfo=UTC)
    assert "22899999.fts" not in by_name  # in the index, not in the listing
    assert by_name["notes.txt"].obs_start is None  # in the listing, not in the index
    # Sorted by observation (or the directory's day when unknown), then path.
    assert paths(specs) == [
        "240301/c2/img_hdr.txt",
        "240301/c2/notes.txt",
        "240301/c2/22812345.fts",
        "240301/c2/22812346.fts",
        "240302/c2/img_hdr.txt",
        "240302/c2/22812400.fts",
    ]


async def test_known_times_must_overlap_the_window(tree: Server) -> None:
    options = lasco(tree, include="*.fts", **INDEX_OPTIONS)
    # 22812345 is observed 00:12:05.45-00:12:30.55, 22812346 from 00:24:05.45.
    specs = await listing(options, window("2024-03-01T00:12:30", "2024-03-01T00:30"))
    assert paths(specs) == ["240301/c2/22812345.fts", "240301/c2/22812346.fts"]
    specs = await listing(options, window("2024-03-01T00:13", "2024-03-01T00:30"))
    assert paths(specs) == ["240301/c2/22812346.fts"]
    unknown_kept = await listing(
        lasco(tree, **INDEX_OPTIONS), window("2024-03-01T06", "2024-03-01T07")
    )
    assert paths(unknown_kept) == ["240301/c2/img_hdr.txt", "240301/c2/notes.txt"]


async def test_by_downlink_applies_no_time_filter(tree: Server) -> None:
    query = ListingQuery(TimeWindow.parse("2024-03-01T06:00", "2024-03-01T07:00"), by="downlink")
    async with source(lasco(tree, include="*.fts", **INDEX_OPTIONS)) as src:
        specs = await src.list_files(query)
    assert paths(specs) == ["240301/c2/22812345.fts", "240301/c2/22812346.fts"]


async def test_time_from_the_file_name(tree: Server) -> None:
    options = {
        "url": tree.url + "/pub/eit/{date:%Y/%m/%d}/",
        "time_regex": EIT_TIME,
        "instrument": "EIT",
    }
    specs = await listing(options, window("2024-03-01T12:00", "2024-03-02T00:00:30"))
    assert [(spec.path, spec.obs_start, spec.instrument) for spec in specs] == [
        ("2024/03/01/efz20240301.120000.fts", datetime(2024, 3, 1, 12, tzinfo=UTC), "EIT"),
        ("2024/03/01/efz20240301.235900.fts", datetime(2024, 3, 1, 23, 59, tzinfo=UTC), "EIT"),
    ]  # efz20240302.000100 was listed (its day is touched) but is outside the window
    with_format = {
        **options,
        "time_regex": r"(?P<time>\d{8}\.\d{6})",
        "time_format": "%Y%m%d.%H%M%S",
    }
    specs = await listing(with_format, window("2024-03-02", "2024-03-02"))
    assert [spec.obs_start for spec in specs] == [datetime(2024, 3, 2, 0, 1, tzinfo=UTC)]


async def test_instrument_filter(tree: Server) -> None:
    options = lasco(tree, **INDEX_OPTIONS)
    day = ListingQuery(TimeWindow.parse("2024-03-01", "2024-03-01"), instrument="c2")
    async with source(options) as src:
        assert len(await src.list_files(day)) == 4
        other = ListingQuery(day.window, instrument="C3")
        # Files of a known other instrument go; files of unknown instrument stay.
        assert paths(await src.list_files(other)) == [
            "240301/c2/img_hdr.txt",
            "240301/c2/notes.txt",
        ]
    async with source(lasco(tree, instrument="C3")) as src:
        assert await src.list_files(day) == []


async def test_recursion_is_bounded_by_max_depth(tree: Server) -> None:
    day = window("2024-03-01", "2024-03-01")
    flat = paths(await listing(lasco(tree, include="*.fts"), day))
    one = paths(await listing(lasco(tree, include="*.fts", recursive=True, max_depth=1), day))
    deep = paths(await listing(lasco(tree, include="*.fts", recursive=True), day))
    assert "240301/c2/calib/dark.fts" not in flat
    assert "240301/c2/calib/dark.fts" in one and "240301/c2/calib/older/flat.fts" not in one
    assert "240301/c2/calib/older/flat.fts" in deep


async def test_path_prefix(tree: Server) -> None:
    specs = await listing(
        lasco(tree, path_prefix="soho/lasco", include="*.fts"), window("2024-03-02", "2024-03-02")
    )
    assert paths(specs) == ["soho/lasco/240302/c2/22812400.fts"]


async def test_bearer_token_is_sent_but_never_shown(
    tree: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    src = source(lasco(tree, token_env="LASCO_TOKEN"), environ={"LASCO_TOKEN": "s3cret-t0ken"})
    async with src:
        await src.list_files(window("2024-03-01", "2024-03-03"))
        assert "s3cret" not in repr(src) and "s3cret" not in str(vars(src))
    assert {auth for _, auth in tree.seen} == {"Bearer s3cret-t0ken"}
    assert "s3cret" not in caplog.text
    assert "240303" in caplog.text  # the missing day was logged, without the token


async def test_credentials_go_to_the_listing_origin_only(
    pages: Callable[[Mapping[str, str | int]], Server],
) -> None:
    other = pages({"/x.fts": "x"})
    listing_page = f'<ul><li><a href="{other.url}/x.fts">x.fts</a></li></ul>'
    home = pages({"/d/": listing_page})
    src = source({"url": home.url + "/d/", "token_env": "T"}, environ={"T": "tok"})
    async with src:
        assert await src.list_files(window("2024-03-01", "2024-03-01")) == []  # other host
    assert home.seen == [("/d/", "Bearer tok")] and other.seen == []


@pytest.mark.parametrize(
    ("fixture", "size", "version"),
    [
        ("nginx_exact.html", 2108160, "2024-03-01T00:31:00Z/2108160"),
        ("nginx_approx.html", None, "2024-03-01T00:31:00Z/~2097152"),
        ("apache_table.html", None, "2024-03-01T00:31:00Z/~2202010"),
        ("lighttpd.html", None, "2024-03-01T00:31:07Z/~2097152"),
    ],
)
async def test_saved_server_pages_end_to_end(
    pages: Callable[[Mapping[str, str | int]], Server], fixture: str, size: int | None, version: str
) -> None:
    page = (FIXTURES / fixture).read_text(encoding="utf-8")
    server = pages({f"/{LASCO}/240301/c2/": page})
    specs = await listing(lasco(server, include="*.fts"), window("2024-03-01", "2024-03-01"))
    first = specs[0]
    assert first.path == "240301/c2/22812345.fts"
    assert first.url == f"{server.url}/{LASCO}/240301/c2/22812345.fts"
    assert (first.size, first.version) == (size, version)
    for spec in specs:  # hostile links in the pages never become files
        assert spec.url.startswith(f"{server.url}/{LASCO}/240301/c2/")
        assert spec.path.startswith("240301/c2/") and ".." not in spec.path


async def test_exact_sizes_of_nginx_pages(
    pages: Callable[[Mapping[str, str | int]], Server],
) -> None:
    page = (FIXTURES / "nginx_exact.html").read_text(encoding="utf-8")
    server = pages({f"/{LASCO}/240301/c2/": page})
    specs = await listing(lasco(server), window("2024-03-01", "2024-03-01"))
    assert {spec.path: spec.size for spec in specs} == {
        "240301/c2/22812345.fts": 2108160,
        "240301/c2/22812346.fts": 524288,
        "240301/c2/a very long name for a file in this archive.fts": 0,
        "240301/c2/efz20240301.120000.fts": 2111040,
        "240301/c2/img_hdr.txt": 845,
    }


async def test_refused_credentials_are_an_auth_error(
    pages: Callable[[Mapping[str, str | int]], Server],
) -> None:
    server = pages({"/d/": 403})
    with pytest.raises(SourceAuthError, match="HTTP 403"):
        await listing({"url": server.url + "/d/"}, window("2024-03-01", "2024-03-01"))


async def test_server_errors_are_source_errors(
    pages: Callable[[Mapping[str, str | int]], Server],
) -> None:
    server = pages({"/240301/": "<ul></ul>", "/240302/": 500})
    settings = read_settings({"url": server.url + "/{date:%y%m%d}/"}, "test")
    naps: list[float] = []

    async def sleep(seconds: float) -> None:
        naps.append(seconds)

    client = PageClient("lasco", attempts=2, sleep=sleep)
    async with HttpIndexSource("lasco", settings, client) as src:
        with pytest.raises(SourceError, match="source lasco"):
            await src.list_files(window("2024-03-01", "2024-03-02"))
    assert len(naps) == 1


async def test_an_index_file_without_the_named_column(
    pages: Callable[[Mapping[str, str | int]], Server],
) -> None:
    server = pages(
        {"/d/": '<ul><li><a href="idx.csv">idx.csv</a></li></ul>', "/d/idx.csv": "file,when\n"}
    )
    options = {
        "url": server.url + "/d/",
        "index_file": "idx.csv",
        "index_columns": {"name": "file", "time": "start"},
    }
    with pytest.raises(
        ConfigError, match=r"idx.csv: no column 'start' in the header \(file, when\)"
    ):
        await listing(options, window("2024-03-01", "2024-03-01"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "http://h/", "colour": "blue"}, "unknown option 'colour'"),
        ({}, "'url' is required"),
        ({"url": "ftp://h/{date:%Y}/"}, "http:// or https://"),
        ({"url": "http://h/{day:%Y}/"}, "not a valid template"),
        ({"url": "http://h/{date[0]}/"}, "not a valid template"),
        ({"url": "http://h/{date:%Y"}, "not a valid template"),
        ({"url": "http://u:p@h/"}, "must not carry credentials"),
        ({"url": "http://h/?C=M"}, "without '\\?' or '#'"),
        ({"url": "http://h/", "token": "inline"}, "must not be written in the configuration"),
        ({"url": "http://h/", "token_env": "UNSET"}, "UNSET is not set"),
        ({"url": "http://h/", "regex": "("}, "'regex' is not a valid regular expression"),
        ({"url": "http://h/", "time_regex": r"\d+"}, "'time_regex' needs a group named 'time'"),
        ({"url": "http://h/", "time_format": "%Y"}, "'time_format' needs 'time_regex'"),
        ({"url": "http://h/", "max_depth": 2}, "'max_depth' needs 'recursive = true'"),
        (
            {"url": "http://h/", "recursive": True, "max_depth": -1},
            "'max_depth' must be at least 0",
        ),
        ({"url": "http://h/", "index_columns": {"name": 0}}, "'index_columns' needs 'index_file'"),
        ({"url": "http://h/", "index_file": "a/b.txt"}, "must be a file name"),
        ({"url": "http://h/", "index_file": "i.txt"}, "needs 'index_columns'"),
        (
            {"url": "http://h/", "index_file": "i.txt", "index_columns": {"name": 0}},
            "index table: a 'time' or 'date' column is required",
        ),
        ({"url": "http://h/", "path_prefix": "../up"}, "'path_prefix'"),
        ({"url": "http://h/", "concurrency": 0}, "'concurrency' must be at least 1"),
        ({"url": "http://h/", "include": 3}, "'include' must be a string or a list"),
        ({"url": "http://h/", "max_answer_size": "big"}, "'max_answer_size' must be a size"),
        ({"url": "http://h/", "max_wait": True}, "'max_wait' must be a duration"),
    ],
)
def test_configuration_mistakes(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        source(options)
    assert caught.value.message.startswith("test.toml: sources.lasco: ")


def test_pages_and_waits_are_bounded_by_default_and_configurable() -> None:
    read = read_settings({"url": "http://h/"}, "test")
    assert (read.max_answer_size, read.max_wait) == (256 << 20, 600.0)
    read = read_settings({"url": "http://h/", "max_answer_size": 4096, "max_wait": 90}, "test")
    assert (read.max_answer_size, read.max_wait) == (4096, 90.0)


def test_registered_as_the_http_index_type() -> None:
    from skyhaul.adapters.config import SourceConfig
    from skyhaul.adapters.sources import build_source

    config = SourceConfig(
        name="lasco",
        type="http-index",
        options={"url": "https://h/{date:%y%m%d}/"},
        dest=Path("/data"),
        base_dir=Path("."),
        where="x",
    )
    built = build_source(config)
    assert isinstance(built, HttpIndexSource)
    assert repr(built) == "HttpIndexSource(name='lasco', url='https://h/{date:%y%m%d}/')"


async def test_an_entry_no_run_could_use_is_skipped_with_a_warning(
    pages: Callable[[Mapping[str, str | int]], Server], caplog: pytest.LogCaptureFixture
) -> None:
    long_name = "n" * 300 + ".fits"
    rows = [
        ("ok.fits", "100"),
        (long_name, "100"),
        ("huge.fits", str(2**63)),
        ("b.fits.skyhaul.part", "100"),  # another tool's (or a careless mirror's) part file
    ]
    listing_page = (
        "<html><body><pre>\n"
        + "".join(
            f'<a href="{name}">{name[:20]}</a> 01-Mar-2024 12:00 {size}\n' for name, size in rows
        )
        + "</pre></body></html>\n"
    )
    server = pages({"/d/": listing_page})
    specs = await listing({"url": server.url + "/d/"}, window("2024-03-01", "2024-03-01"))
    assert paths(specs) == ["ok.fits"]
    skipped = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert skipped == [
        f"source lasco: skipped {server.url}/d/{long_name}: path"
        f" {'n' * 32 + '…'!r}: a file name of 305 bytes (at most 242, to leave room for"
        " '.skyhaul.part' in 255)",
        f"source lasco: skipped {server.url}/d/huge.fits: size {2**63} is more than"
        " 9223372036854775807 bytes (8 EiB - 1)",
        f"source lasco: skipped {server.url}/d/b.fits.skyhaul.part: destination path"
        " 'b.fits.skyhaul.part': names ending in '.skyhaul.part' are reserved for skyhaul's"
        " part files ('b.fits.skyhaul.part')",
    ]
