"""Bad input: one line saying what and where, exit code 2, no traceback, nothing registered."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
from tests.loopback_http import LoopbackHTTPServer
from typer.testing import Result

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.model import FileSpec

Invoke = Callable[..., Result]
States = Callable[[], dict[str, int]]

SHA = "0" * 64
HEADER = "url,path,size,checksum,instrument,obs_start,obs_end,downlink_time,slot"


def good_rows(n: int) -> list[str]:
    return [
        f"https://archive.example/f{i}.fits,f{i}.fits,10,sha256:{SHA},AIA,,,," for i in range(n)
    ]


def assert_one_line_error(result: Result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0] == f"skyhaul: error: {expected}", lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("bad_row", "expected"),
    [
        (
            "https://archive.example/x,x,abc,,,,,,",
            "manifest.csv:17: size 'abc' is not a whole number of bytes",
        ),
        (
            "https://archive.example/x,x,10,sha256:1234,,,,,",
            "manifest.csv:17: invalid checksum 'sha256:1234': sha256 needs 64 hex digits,"
            " got 4 characters",
        ),
        (
            "https://archive.example/x,x,10,crc32:00000000,,,,,",
            "manifest.csv:17: invalid checksum 'crc32:00000000': unsupported algorithm 'crc32'"
            " (supported: sha256, sha1, md5, adler32)",
        ),
        (
            "https://archive.example/x,../x,,,,,,,",
            "manifest.csv:17: unsafe destination path '../x': '..' components are not allowed",
        ),
        (
            "https://archive.example/x,/etc/x,,,,,,,",
            "manifest.csv:17: unsafe destination path '/etc/x': absolute paths are not allowed",
        ),
        (
            "https://archive.example/x,x,,,,2024-02-30T00:00:00Z,,,",
            "manifest.csv:17: obs_start '2024-02-30T00:00:00Z' is not an ISO 8601 date or time"
            " (e.g. 2024-03-01 or 2024-03-01T12:00:00Z)",
        ),
        (
            "ftp://archive.example/x,x,,,,,,,",
            "manifest.csv:17: 'ftp://archive.example/x' is not an http(s) or s3 URL",
        ),
    ],
)
def test_a_malformed_manifest_row_registers_nothing(
    skyhaul: Invoke, states: States, tmp_path: Path, bad_row: str, expected: str
) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("\n".join([HEADER, *good_rows(15), bad_row, *good_rows(3)]) + "\n")
    result = skyhaul("get", "-i", "manifest.csv", "-d", "files")
    assert_one_line_error(result, expected)
    assert states() == {}
    assert not (tmp_path / "files").exists()


def test_a_url_list_names_the_line_of_a_url_that_is_not_http(
    skyhaul: Invoke, states: States, tmp_path: Path
) -> None:
    (tmp_path / "urls.txt").write_text(
        "# my files\nhttps://archive.example/a\n\nfile:///etc/passwd\n"
    )
    assert_one_line_error(
        skyhaul("get", "-i", "urls.txt"),
        "urls.txt:4: 'file:///etc/passwd' is not an http(s) or s3 URL",
    )
    assert states() == {}


def test_a_url_argument_that_is_not_http(skyhaul: Invoke, states: States) -> None:
    result = skyhaul("get", "https://archive.example/a", "archive.example/b")
    assert_one_line_error(result, "URL argument 2: 'archive.example/b' is not an http(s) or s3 URL")
    assert states() == {}


def test_missing_manifest(skyhaul: Invoke) -> None:
    assert_one_line_error(skyhaul("get", "-i", "nope.csv"), "nope.csv: no such file")


def test_empty_url_list(skyhaul: Invoke, tmp_path: Path, states: States) -> None:
    (tmp_path / "urls.txt").write_text("# nothing yet\n\n")
    assert_one_line_error(skyhaul("get", "-i", "urls.txt"), "urls.txt: no files listed")
    assert states() == {}


def test_nothing_to_get(skyhaul: Invoke) -> None:
    assert_one_line_error(skyhaul("get"), "nothing to get: give one or more URLs, or -i LIST")


def test_destination_that_is_a_file(skyhaul: Invoke, tmp_path: Path, states: States) -> None:
    (tmp_path / "taken").write_text("")
    assert_one_line_error(
        skyhaul("get", "https://archive.example/a", "-d", "taken"), "taken: not a directory"
    )
    assert states() == {}


def test_a_path_already_used_by_another_url(
    skyhaul: Invoke, tmp_path: Path, catalog: Catalog
) -> None:
    first = FileSpec(url="https://archive.example/a/f.fits", path="f.fits")
    catalog.register([first], str(tmp_path), now=datetime.now(UTC))
    result = skyhaul("get", "https://mirror.example/b/f.fits")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("skyhaul: error: ")
    assert "f.fits" in line
    assert catalog.count_files() == 1


def test_a_file_below_one_registered_by_an_earlier_run(
    skyhaul: Invoke, tmp_path: Path, catalog: Catalog
) -> None:
    catalog.register([FileSpec("https://archive.example/a", "a")], ".", now=datetime.now(UTC))
    above = os.path.realpath(tmp_path / "a")
    assert_one_line_error(
        skyhaul("get", "https://mirror.example/f.fits", "-d", "a"),
        f"https://mirror.example/f.fits: path '{above}/f.fits' clashes with '{above}' of"
        f" https://archive.example/a: '{above}' cannot be both a file and a directory",
    )
    assert catalog.count_files() == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["get", "--bogus"], "No such option: --bogus"),
        (["get", "--segment-size", "lots"], "invalid size 'lots'"),
        (["get", "--segment-size", "0"], "must be more than 0 bytes"),
        (["get", "--min-speed", "fast"], "invalid size 'fast'"),
        (["get", "--timeout", "0"], "must be more than 0 seconds"),
        (["get", "--max-wait", "forever"], "Invalid value for '--max-wait'"),
        (["get", "-j", "0", "https://archive.example/a"], "Invalid value for '--concurrency'"),
        (["ls", "--state", "GONE"], "Invalid value for '--state'"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_usage_errors_are_one_short_line(
    skyhaul: Invoke, states: States, args: list[str], fragment: str
) -> None:
    result = skyhaul(*args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("skyhaul: error: ")
    assert fragment in lines[0]
    assert "--help" in lines[0]
    assert states() == {}


def test_unreachable_catalog_says_which_without_its_password(
    skyhaul: Invoke, tmp_path: Path
) -> None:
    url = "postgresql://skyhaul:hunter2@127.0.0.1:1/skyhaul"
    result = skyhaul("status", "--catalog", url)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("skyhaul: error: ")
    assert "127.0.0.1:1" in line
    assert "hunter2" not in result.output


def test_unwritable_catalog(skyhaul: Invoke, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = skyhaul("get", "https://archive.example/a", "--catalog", str(tmp_path / "file/x.db"))
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("skyhaul: error: ")


# --- rows that would fail every later run, and input no parser should follow ---------------


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("urls.txt", "http://[::1/x\n",
         "urls.txt:1: URL 'http://[::1/x' is not valid: Invalid IPv6 URL"),
        (
            "m.csv",
            f"url,path\nhttps://archive.example/x,d/{'n' * 250}\n",
            f"m.csv:2: path {'d/' + 'n' * 30 + '…'!r}: a file name of 250 bytes (at most 242,"
            " to leave room for '.skyhaul.part' in 255)",
        ),
        (
            "m.csv",
            "url,path\nhttps://archive.example/x,a\nhttps://archive.example/y,a/b\n",
            "m.csv:3: path 'a/b' clashes with 'a' of m.csv:2:"
            " 'a' cannot be both a file and a directory",
        ),
        (
            "m.csv",
            f"url,size\nhttps://archive.example/x,{2**63}\n",
            f"m.csv:2: size {2**63} is more than 9223372036854775807 bytes (8 EiB - 1)",
        ),
        (
            "m.json",
            f'[{{"url": "https://archive.example/x", "size": {2**64}}}]',
            f"m.json: item 1: size {2**64} is more than 9223372036854775807 bytes (8 EiB - 1)",
        ),
        (
            "m.csv",
            f"url,path\nhttps://archive.example/x,{'x' * 140_000}\n",
            "m.csv:2: not valid CSV: field larger than field limit (131072)",
        ),
        ("m.json", "[" * 100_000 + "]" * 100_000, "m.json: not valid JSON: nested too deeply"),
        (
            "m.csv",
            "url,obs_start\nhttps://archive.example/x,9999-12-31T24:00\n",
            "m.csv:2: obs_start '9999-12-31T24:00' is after 9999-12-31T23:59:59.999999Z,"
            " the last time skyhaul can hold",
        ),
        (
            "m.csv",
            "url,downlink_time\nhttps://archive.example/x,0001-01-01T00:00:00+01:00\n",
            "m.csv:2: downlink_time '0001-01-01T00:00:00+01:00' is before 0001-01-01T00:00:00Z,"
            " the first time skyhaul can hold",
        ),
    ],
)  # fmt: skip
def test_a_manifest_no_run_could_use_registers_nothing(
    skyhaul: Invoke, states: States, tmp_path: Path, name: str, text: str, expected: str
) -> None:
    (tmp_path / name).write_text(text)
    assert_one_line_error(skyhaul("get", "-i", name, "-d", "files"), expected)
    assert states() == {}
    assert not (tmp_path / "files").exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["get", URL_OK := "https://archive.example/a", "--lease", "99999999999d"],
         "invalid duration '99999999999d': more than 100 years (36525d)"),
        (["get", URL_OK, "--segment-size", "8EiB"],
         "invalid size '8EiB': more than 9223372036854775807 bytes (8 EiB - 1)"),
        (["download", "--start", "0001-01-01T00:00:00+01:00"],
         "'0001-01-01T00:00:00+01:00' is before 0001-01-01T00:00:00Z, the first time"),
        (["download", "--start", "2024-01-01", "--end", "9999-12-31T24:00"],
         "'9999-12-31T24:00' is after 9999-12-31T23:59:59.999999Z, the last time"),
        (["download", "--start", "2024-01-01", "--end", "9999-12-31"],
         "end 9999-12-31 (the whole day) ends after 9999-12-31T23:59:59.999999Z"),
        (["download", "--end", "9999-12-31"],
         "end 9999-12-31 (the whole day) ends after 9999-12-31T23:59:59.999999Z"),
        (["ls", "--downloaded-between", "2024-01-01", "9999-12-31"],
         "end 9999-12-31 (the whole day) ends after 9999-12-31T23:59:59.999999Z"),
    ],
)  # fmt: skip
def test_options_past_the_calendar_or_the_largest_size_are_one_line(
    skyhaul: Invoke, states: States, args: list[str], fragment: str
) -> None:
    result = skyhaul(*args)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("skyhaul: error: ") and fragment in line, line
    assert "Traceback" not in result.output
    assert states() == {}


def test_windows_and_days_at_the_calendar_edges_are_answered(
    skyhaul: Invoke, catalog: Catalog, tmp_path: Path
) -> None:
    first = datetime.min.replace(tzinfo=UTC)
    day = timedelta(days=1)
    late = datetime(9999, 12, 30, 12, tzinfo=UTC)
    specs = [
        FileSpec(
            "https://archive.example/e", "e", source="sim", obs_start=first, obs_end=first + day
        ),
        FileSpec("https://archive.example/late", "late", source="sim", obs_start=late),
    ]
    catalog.register(specs, str(tmp_path), now=datetime(2025, 1, 1, tzinfo=UTC))
    listed = skyhaul("ls", "--start", "0001-01-01", "--end", "2025-01-01", "--json")
    assert listed.exit_code == 0, listed.output
    assert [row["path"] for row in json.loads(listed.stdout)] == ["e"]
    (tmp_path / "skyhaul.toml").write_text('[sources.sim]\ntype = "sim"\nurl = "http://x"\n')
    days = ("--start-date", "9999-12-29", "--end-date", "9999-12-30")
    report = skyhaul("report", "availability", "--source", "sim", *days, "--json")
    assert report.exit_code == 0, report.output
    found = {row["day"]: row["expected"] for row in json.loads(report.stdout)["days"]}
    assert found["9999-12-30"] == 1


class _Listing(BaseHTTPRequestHandler):
    document: ClassVar[bytes] = b"[]"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.document)))
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def listing(tmp_path: Path) -> Iterator[Callable[[object], None]]:
    """A sim-type listing on loopback, configured as source ``solo``; set its document."""
    handler = type("Listing", (_Listing,), {})
    server = LoopbackHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    (tmp_path / "skyhaul.toml").write_text(f'[sources.solo]\ntype = "sim"\nurl = "{url}"\n')

    def serve(document: object) -> None:
        handler.document = json.dumps(document).encode()

    yield serve
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([{"url": "https://archive.example/a", "path": "a", "instrument": {"name": "EUI"}}],
         "item 0: instrument must be text, got an object"),
        ([{"url": "https://archive.example/a", "path": "a", "checksum": "sha256:zz"}],
         "item 0: invalid checksum 'sha256:zz'"),
        ([{"url": "http://[::1/x", "path": "a"}],
         "item 0: URL 'http://[::1/x' is not valid: Invalid IPv6 URL"),
        ([{"url": "https://archive.example/a", "path": "a"},
          {"url": "https://archive.example/b", "path": "a/b"}],
         "item 1: path 'a/b' clashes with 'a' of item 0"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["discover", "download"])
def test_a_listing_no_run_could_use_registers_nothing(
    skyhaul: Invoke,
    states: States,
    listing: Callable[[object], None],
    command: str,
    entries: list[dict[str, object]],
    expected: str,
) -> None:
    listing(entries)
    result = skyhaul(command, "--source", "solo", "--start", "2024-03-01", "--end", "2024-03-01")
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("skyhaul: error: source solo: http://127.0.0.1:"), line
    assert expected in line
    assert states() == {}
