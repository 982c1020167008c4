"""Bad input: one line saying what and where, exit code 2, no traceback, nothing registered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
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
