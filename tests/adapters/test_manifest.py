from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skyhaul.adapters.manifest import read_specs, specs_from_urls
from skyhaul.core.model import FileSpec
from skyhaul.errors import ManifestError, PathEscapeError, UsageError

SHA = "ab" * 32
HEADER = "url,path,size,checksum,instrument,obs_start,obs_end,downlink_time,slot"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def csv_manifest(tmp_path: Path, *rows: str, name: str = "manifest.csv") -> Path:
    return write(tmp_path, name, "\n".join([HEADER, *rows]) + "\n")


def error_of(path: Path) -> str:
    with pytest.raises(UsageError) as excinfo:
        read_specs(path)
    message = str(excinfo.value)
    assert "\n" not in message
    return message


# --- reading --------------------------------------------------------------------------


def test_csv_row_becomes_a_full_spec(tmp_path: Path) -> None:
    path = csv_manifest(
        tmp_path,
        f"https://arch.example/a/x.fits,aia/x.fits,1024,SHA256:{SHA.upper()},AIA,"
        "2024-03-01T00:00:00Z,2024-03-01T01:01:00+01:00,2024-061T12:00,pass-7",
    )
    [spec] = read_specs(path)
    assert spec == FileSpec(
        url="https://arch.example/a/x.fits",
        path="aia/x.fits",
        size=1024,
        checksum=f"sha256:{SHA}",
        source="manifest",
        instrument="AIA",
        obs_start=datetime(2024, 3, 1, tzinfo=UTC),
        obs_end=datetime(2024, 3, 1, 0, 1, tzinfo=UTC),
        downlink_time=datetime(2024, 3, 1, 12, 0, tzinfo=UTC),
        slot="pass-7",
    )


def test_optional_columns_may_be_empty_or_absent(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "URL , Size\nhttps://h.example/d/f.fits?x=1,\n")
    [spec] = read_specs(path, source="archive")
    assert spec == FileSpec(url="https://h.example/d/f.fits?x=1", path="f.fits", source="archive")


def test_paths_are_normalised(tmp_path: Path) -> None:
    path = csv_manifest(tmp_path, r"https://h.example/f,a//./b\c.fits,,,,,,,")
    assert read_specs(path)[0].path == "a/b/c.fits"


def test_url_list_skips_blank_lines_and_comments(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "urls.txt",
        "# wanted files\n\nhttps://h.example/a.fits\n   \n  http://h.example/b/c.fits  \n",
    )
    specs = read_specs(path)
    assert [(s.url, s.path) for s in specs] == [
        ("https://h.example/a.fits", "a.fits"),
        ("http://h.example/b/c.fits", "c.fits"),
    ]


@pytest.mark.parametrize(
    "document",
    [
        [{"url": "https://h.example/a.fits", "size": 5, "checksum": f"md5:{'0' * 32}"}],
        {
            "files": [
                {"url": "https://h.example/a.fits", "size": "5", "checksum": f"md5:{'0' * 32}"}
            ]
        },
    ],
)
def test_json_list_or_files_object(tmp_path: Path, document: object) -> None:
    path = write(tmp_path, "m.json", json.dumps(document))
    assert read_specs(path) == [
        FileSpec(
            url="https://h.example/a.fits",
            path="a.fits",
            size=5,
            checksum=f"md5:{'0' * 32}",
            source="manifest",
        )
    ]


def test_json_list_of_urls(tmp_path: Path) -> None:
    path = write(tmp_path, "m.json", '["https://h.example/a", "https://h.example/b"]')
    assert [s.path for s in read_specs(path)] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ('[{"url": "https://h.example/a"}]', ["a"]),
        ("url,path\nhttps://h.example/a,z/a\n", ["z/a"]),
        ("# list\nhttps://h.example/a\n", ["a"]),
    ],
)
def test_format_is_sniffed_without_a_known_extension(
    tmp_path: Path, text: str, paths: list[str]
) -> None:
    assert [s.path for s in read_specs(write(tmp_path, "wanted.lst", text))] == paths


def test_exact_repeats_are_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "u.txt", "https://h.example/a\nhttps://h.example/a\n")
    assert len(read_specs(path)) == 1


def test_unknown_columns_are_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "m.csv", "url,comment\nhttps://h.example/a,nice\n")
    with caplog.at_level(logging.WARNING):
        assert len(read_specs(path)) == 1
    assert "ignoring unknown columns: comment" in caplog.text


def test_quoted_multiline_fields_keep_line_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.csv",
        'url,instrument\nhttps://h.example/a,"two\nlines"\nhttps://h.example/b,x\n',
    )
    assert [s.instrument for s in read_specs(path)] == ["two\nlines", "x"]
    bad = write(tmp_path, "n.csv", 'url,instrument\nhttps://h.example/a,"two\nlines"\nftp://b,x\n')
    assert error_of(bad).startswith(f"{bad}:4: ")


def test_specs_from_urls() -> None:
    specs = specs_from_urls(["https://h.example/a/x.fits", " https://h.example/y "])
    assert [(s.path, s.source) for s in specs] == [("x.fits", "cli"), ("y", "cli")]
    assert specs_from_urls([]) == []
    with pytest.raises(ManifestError, match=r"^URL argument 2: 'file:///etc/passwd' is not"):
        specs_from_urls(["https://h.example/a", "file:///etc/passwd"])


def test_hundred_thousand_rows_parse(tmp_path: Path) -> None:
    # Its speed is the benchmarks' business (discovery, e); here every row comes through.
    rows = [
        f"https://h.example/d/{i}.fits,d/{i % 100}/{i}.fits,{i},sha256:{SHA},AIA,"
        f"2024-03-01T00:00:00Z,2024-03-01T00:01:00Z,2024-03-01T02:00:00Z,s{i % 7}"
        for i in range(100_000)
    ]
    path = csv_manifest(tmp_path, *rows)
    specs = read_specs(path)
    assert len(specs) == 100_000
    assert specs[-1].size == 99_999 and specs[-1].path == "d/99/99999.fits"


# --- refusing bad input, one line with the place ----------------------------------------


def test_bad_size_names_file_and_line(tmp_path: Path) -> None:
    rows = [f"https://h.example/{i},,{i},,,,,," for i in range(15)]
    path = csv_manifest(tmp_path, *rows, "https://h.example/x,,abc,,,,,,")
    assert error_of(path) == f"{path}:17: size 'abc' is not a whole number of bytes"


@pytest.mark.parametrize("size", ["-1", "1.5", "8MiB", "1e3"])
def test_sizes_are_whole_numbers_of_bytes(tmp_path: Path, size: str) -> None:
    path = csv_manifest(tmp_path, f"https://h.example/x,,{size},,,,,,")
    assert error_of(path) == f"{path}:2: size {size!r} is not a whole number of bytes"


@pytest.mark.parametrize(
    "checksum", ["sha256:xyz", "crc32:0000", f"sha256{SHA}", f"md5:{SHA}", "sha256:"]
)
def test_bad_checksum(tmp_path: Path, checksum: str) -> None:
    path = csv_manifest(tmp_path, f"https://h.example/x,,,{checksum},,,,,")
    message = error_of(path)
    assert message.startswith(f"{path}:2: invalid checksum")


@pytest.mark.parametrize("dest", ["../x", "/etc/x", "a/../../x", r"..\x", "C:/x"])
def test_path_escaping_the_root(tmp_path: Path, dest: str) -> None:
    path = csv_manifest(
        tmp_path, "https://h.example/ok,,,,,,,,", f"https://h.example/x,{dest},,,,,,,"
    )
    with pytest.raises(PathEscapeError) as excinfo:
        read_specs(path)
    assert str(excinfo.value).startswith(f"{path}:3: unsafe destination path")


@pytest.mark.parametrize("column", ["obs_start", "obs_end", "downlink_time"])
def test_bad_date_in_a_mission_column(tmp_path: Path, column: str) -> None:
    values = {"obs_start": "", "obs_end": "", "downlink_time": ""} | {column: "yesterday"}
    path = csv_manifest(
        tmp_path,
        f"https://h.example/x,,,,,{values['obs_start']},{values['obs_end']},"
        f"{values['downlink_time']},",
    )
    assert error_of(path).startswith(f"{path}:2: {column} 'yesterday' is not an ISO 8601")


def test_observation_must_not_end_before_it_starts(tmp_path: Path) -> None:
    path = csv_manifest(tmp_path, "https://h.example/x,,,,,2024-03-02,2024-03-01,,")
    assert "obs_end 2024-03-01T00:00:00+00:00 is before obs_start" in error_of(path)


@pytest.mark.parametrize("url", ["ftp://h.example/x", "h.example/x", "https://", "s3://"])
def test_url_must_be_http_or_s3(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, "urls.txt", f"https://h.example/ok\n\n{url}\n")
    assert error_of(path) == f"{path}:3: {url!r} is not an http(s) or s3 URL"


def test_url_secrets_are_redacted_in_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "urls.txt", "ftp://me:hunter2@h.example/x\n")
    message = error_of(path)
    assert "hunter2" not in message
    assert "REDACTED" in message


def test_two_urls_for_one_path(tmp_path: Path) -> None:
    path = write(tmp_path, "urls.txt", "https://h.example/a/f.fits\nhttps://h.example/b/f.fits\n")
    assert error_of(path) == (
        f"{path}:2: path 'f.fits' is also the destination of {path}:1 (https://h.example/a/f.fits)"
    )


def test_missing_url(tmp_path: Path) -> None:
    path = csv_manifest(tmp_path, ",x,1,,,,,,")
    assert error_of(path) == f"{path}:2: no url"


def test_header_without_url_column(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "link,path\nhttps://h.example/a,a\n")
    assert error_of(path) == f"{path}:1: the header has no 'url' column (found: link, path)"


def test_row_with_too_many_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "url,path\nhttps://h.example/a,a,extra\n")
    assert error_of(path) == f"{path}:2: 3 fields but the header has 2 columns"


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    assert error_of(tmp_path / "nope.csv") == f"{tmp_path / 'nope.csv'}: no such file"
    assert error_of(tmp_path) == f"{tmp_path}: is a directory, not a manifest"
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert error_of(binary) == f"{binary}: not a UTF-8 text file"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("empty.txt", ""),
        ("comments.txt", "# nothing yet\n\n"),
        ("header.csv", HEADER + "\n"),
        ("empty.json", "[]"),
    ],
)
def test_empty_list(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path, name, text)
    assert error_of(path) == f"{path}: no files listed"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"url": "https://h.example/a"},\n {"url": ', ":2: not valid JSON"),
        ('{"items": []}', ": expected a JSON list of files"),
        ('[{"url": "https://h.example/a"}, 7]', ": item 2: expected an object with a 'url'"),
        ('[{"url": "https://h.example/a", "size": -3}]', ": item 1: size -3 is not a whole"),
        ('[{"url": "https://h.example/a", "size": true}]', ": item 1: size True is not a whole"),
        ('[{"url": ["https://h.example/a"]}]', ": item 1: url must be text, got a list"),
        ('[{"url": "https://h.example/a", "path": "../a"}]', ": item 1: unsafe destination"),
    ],
)
def test_bad_json(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "m.json", text)
    assert error_of(path).startswith(f"{path}{expected}")


def test_s3_urls_and_mirrors_in_csv(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.csv",
        "url,path,mirrors\n"
        "s3://bucket/raw/a.fits,a.fits,https://h.example/raw/a.fits  https://m.example/a.fits\n"
        "https://h.example/b.fits,b.fits,\n",
    )
    a, b = read_specs(path)
    assert a.url == "s3://bucket/raw/a.fits"
    assert a.mirrors == ("https://h.example/raw/a.fits", "https://m.example/a.fits")
    assert a.urls[0] == a.url
    assert b.mirrors == ()


def test_mirrors_in_json_as_a_list_or_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.json",
        '[{"url": "s3://b/x.fits", "mirrors": ["https://h.example/x.fits", "s3://b/x.fits"]},'
        ' {"url": "https://h.example/y.fits", "mirrors": "https://m.example/y.fits"}]',
    )
    x, y = read_specs(path)
    assert x.mirrors == ("https://h.example/x.fits",)  # the file's own URL is not a mirror
    assert y.mirrors == ("https://m.example/y.fits",)


def test_a_bad_mirror_names_its_row(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "url,mirrors\nhttps://h.example/a,ftp://m.example/a\n")
    assert error_of(path) == f"{path}:2: mirrors: 'ftp://m.example/a' is not an http(s) or s3 URL"


# --- rows that would pass a loose check but fail every later run --------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://[::1/x\n", ":1: URL 'http://[::1/x' is not valid: Invalid IPv6 URL"),
        ("https://h.example:99999/x\n", ":1: URL 'https://h.example:99999/x' is not valid"),
        ("s3://bucket\n", ":1: URL 's3://bucket' is not s3://BUCKET/KEY"),
        ("https://h.example/a\x01b\n", ":1: URL 'https://h.example/a\\x01b' contains a control"),
    ],
)
def test_a_url_that_does_not_parse_names_its_line(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "urls.txt", text)
    assert error_of(path).startswith(f"{path}{expected}")


def test_a_url_argument_that_does_not_parse() -> None:
    with pytest.raises(ManifestError) as caught:
        specs_from_urls(["https://h.example/a", "http://[::1/x"])
    assert str(caught.value) == "URL argument 2: URL 'http://[::1/x' is not valid: Invalid IPv6 URL"


def test_a_checksum_that_is_not_hex(tmp_path: Path) -> None:
    path = csv_manifest(tmp_path, "https://h.example/x,,,sha256:zz,,,,,")
    assert error_of(path).startswith(f"{path}:2: invalid checksum 'sha256:zz'")


def test_a_file_name_longer_than_242_bytes(tmp_path: Path) -> None:
    path = csv_manifest(tmp_path, f"https://h.example/x,d/{'n' * 243},,,,,,,")
    assert error_of(path) == (
        f"{path}:2: path {'d/' + 'n' * 30 + '…'!r}: a file name of 243 bytes"
        " (at most 242, to leave room for '.skyhaul.part' in 255)"
    )


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            ["https://h.example/1,a,,,,,,,", "https://h.example/2,a/b,,,,,,,"],
            ":3: path 'a/b' clashes with 'a' of {path}:2",
        ),
        (
            [
                "https://h.example/1,a/b/c,,,,,,,",
                "https://h.example/2,x,,,,,,,",
                "https://h.example/3,a,,,,,,,",
            ],
            ":4: path 'a' clashes with 'a/b/c' of {path}:2",
        ),
    ],
)
def test_a_path_that_is_a_directory_of_another(
    tmp_path: Path, rows: list[str], expected: str
) -> None:
    path = csv_manifest(tmp_path, *rows)
    message = error_of(path)
    assert message.startswith(f"{path}{expected.format(path=path)}: ")
    assert message.endswith("cannot be both a file and a directory")


@pytest.mark.parametrize("size", [str(2**63), str(10**30)])
def test_a_size_of_2_to_the_63_or_more(tmp_path: Path, size: str) -> None:
    path = csv_manifest(tmp_path, f"https://h.example/x,,{size},,,,,,")
    assert error_of(path) == (
        f"{path}:2: size {size} is more than 9223372036854775807 bytes (8 EiB - 1)"
    )
    path = write(tmp_path, "m.json", f'[{{"url": "https://h.example/x", "size": {size}}}]')
    assert error_of(path) == (
        f"{path}: item 1: size {size} is more than 9223372036854775807 bytes (8 EiB - 1)"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("9999-12-31T24:00", "is after 9999-12-31T23:59:59.999999Z, the last time"),
        ("0001-01-01T00:00:00+01:00", "is before 0001-01-01T00:00:00Z, the first time"),
    ],
)
def test_a_time_past_the_calendars_edge(tmp_path: Path, value: str, expected: str) -> None:
    path = csv_manifest(tmp_path, f"https://h.example/x,,,,,{value},,,")
    assert error_of(path) == f"{path}:2: obs_start {value!r} {expected} skyhaul can hold"


def test_a_csv_field_over_128_kib(tmp_path: Path) -> None:
    path = csv_manifest(
        tmp_path, "https://h.example/a,a,,,,,,,", f"https://h.example/x,{'x' * 140_000}"
    )
    assert error_of(path) == f"{path}:3: not valid CSV: field larger than field limit (131072)"


def test_deeply_nested_json(tmp_path: Path) -> None:
    path = write(tmp_path, "m.json", "[" * 100_000 + "]" * 100_000)
    assert error_of(path) == f"{path}: not valid JSON: nested too deeply"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ('{"url": "https://h.example/a", "instrument": {"n": 1}}', "instrument must be text"),
        ('{"url": "https://h.example/a", "path": "\\ud800"}', "path is not valid Unicode"),
        ('{"url": "https://h.example/a", "slot": "s\\u0000"}', "slot contains a NUL character"),
    ],
)
def test_json_values_the_catalog_cannot_store(tmp_path: Path, item: str, expected: str) -> None:
    path = write(tmp_path, "m.json", f"[{item}]")
    assert error_of(path).startswith(f"{path}: item 1: {expected}")


def test_one_url_for_two_paths(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "url,path\nhttps://h.example/a,x\nhttps://h.example/a,y\n")
    assert error_of(path) == (
        f"{path}:3: https://h.example/a is also listed at {path}:2, for path 'x'"
    )
