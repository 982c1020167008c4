"""A file's row is checked before it is registered: a value the engine cannot use is a
one-line error, never a row that fails every later run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from skyhaul.core.model import FileSpec
from skyhaul.core.specs import PathClash, find_path_clash, validate_spec, validate_specs
from skyhaul.errors import InvalidSpecError, UsageError

SHA = "ab" * 32
URL = "https://archive.example/data/a.fits"


def spec(**values: Any) -> FileSpec:
    fields: dict[str, Any] = {"url": URL, "path": "a.fits"} | values
    return FileSpec(**fields)


def refusal(candidate: FileSpec) -> str:
    with pytest.raises(InvalidSpecError) as caught:
        validate_spec(candidate)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_usable_spec_passes() -> None:
    validate_spec(
        spec(
            size=0,
            checksum=f"sha256:{SHA}",
            mirrors=("s3://bucket/raw/a.fits", "http://[::1]:8080/a.fits"),
            version='"etag"',
            instrument="EUI",
            obs_start=datetime(2024, 3, 1, tzinfo=UTC),
            obs_end=datetime(2024, 3, 1, 0, 1, tzinfo=UTC),
            downlink_time=datetime.max.replace(tzinfo=UTC),
            slot="pass-1",
        )
    )
    validate_spec(spec(size=2**63 - 1, obs_start=datetime.min.replace(tzinfo=UTC)))


def test_the_error_is_a_value_error_and_a_usage_error() -> None:
    assert issubclass(InvalidSpecError, ValueError)
    assert issubclass(InvalidSpecError, UsageError)
    assert InvalidSpecError.exit_code == 2


# --- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://[::1/x", "URL 'http://[::1/x' is not valid: Invalid IPv6 URL"),
        ("http://[zz]/x", "URL 'http://[zz]/x' is not valid: 'zz' does not appear to be"),
        ("http://h.example:99999/x", "URL 'http://h.example:99999/x' is not valid: Port out of"),
        ("http://h.example:65536/x", "URL 'http://h.example:65536/x' is not valid: Port out of"),
        ("http://h.example:abc/x", "URL 'http://h.example:abc/x' is not valid: Port could not"),
        ("http://@/x", "URL 'http://@/x' has no host"),
        ("https://:443/x", "URL 'https://:443/x' has no host"),
        ("s3://bucket", "URL 's3://bucket' is not s3://BUCKET/KEY"),
        ("s3://bucket/", "URL 's3://bucket/' is not s3://BUCKET/KEY"),
        ("https://h.example/a\x01b", "URL 'https://h.example/a\\x01b' contains a control char"),
        ("https://h.example/a b", "URL 'https://h.example/a b' contains whitespace"),
        ("ftp://h.example/x", "'ftp://h.example/x' is not an http(s) or s3 URL"),
        ("https://", "'https://' is not an http(s) or s3 URL"),
        ("https://u:hunter2@[::1/x", "URL 'https://u:REDACTED@[::1/x' is not valid"),
    ],
)
def test_a_url_the_transports_cannot_use_is_refused(url: str, message: str) -> None:
    assert refusal(spec(url=url)).startswith(message)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/files/a.bin", "https://h.example:65535/x?y=1", "http://h.example:0"],
)
def test_a_plain_url_with_a_port_is_accepted_without_parsing(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A manifest of a million loopback or mirror URLs with ports is checked twice per row
    # (reading, registering): the parser is kept for URLs that need it.
    def no_parsing(_: str) -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr("skyhaul.core.specs.urlsplit", no_parsing)
    validate_spec(spec(url=url))


def test_a_mirror_is_checked_like_the_url() -> None:
    assert refusal(spec(mirrors=("https://ok.example/a", "http://[::1/x"))) == (
        "mirrors: URL 'http://[::1/x' is not valid: Invalid IPv6 URL"
    )


# --- paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../x", "unsafe destination path '../x': '..' components are not allowed"),
        ("", "unsafe destination path '': empty path"),
        ("a//b", "path 'a//b' is not in normal form: write it 'a/b'"),
        ("a\\b", "path 'a\\\\b' is not in normal form: write it 'a/b'"),
        (
            "d/" + "é" * 128 + ".fits",
            f"path {'d/' + 'é' * 30 + '…'!r}: a file name of 261 bytes (at most 242, "
            "to leave room for '.skyhaul.part' in 255)",
        ),
    ],
)
def test_a_path_the_file_system_cannot_hold_is_refused(path: str, message: str) -> None:
    assert refusal(spec(path=path)) == message


def test_a_name_only_a_part_file_may_have_is_refused() -> None:
    assert refusal(spec(path="d/x.SKYHAUL.part/y")) == (
        "destination path 'd/x.SKYHAUL.part/y': names ending in '.skyhaul.part' are reserved"
        " for skyhaul's part files ('x.SKYHAUL.part')"
    )


def test_a_directory_name_of_255_bytes_is_fine() -> None:
    validate_spec(spec(path="a" * 255 + "/x.fits"))


def test_a_file_name_leaves_room_for_its_part_file_suffix() -> None:
    # The part file "<name>.skyhaul.part" must fit in the file system's 255 bytes too.
    validate_spec(spec(path="d/" + "a" * 237 + ".fits"))  # 242 bytes
    assert refusal(spec(path="d/" + "a" * 238 + ".fits")) == (
        f"path {'d/' + 'a' * 30 + '…'!r}: a file name of 243 bytes (at most 242, "
        "to leave room for '.skyhaul.part' in 255)"
    )


def test_a_path_longer_than_path_max_is_refused() -> None:
    assert refusal(spec(path="/".join(["d" * 200] * 21))).endswith(
        "is 4220 bytes long (file systems hold 4095)"
    )


# --- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"size": 2**63}, "size 9223372036854775808 is more than 9223372036854775807 bytes"),
        ({"size": -1}, "size -1 is not a whole number of bytes"),
        ({"size": True}, "size True is not a whole number of bytes"),
        ({"size": "10"}, "size '10' is not a whole number of bytes"),
        ({"checksum": "sha256:zz"}, "invalid checksum 'sha256:zz': sha256 needs 64 hex digits"),
        ({"checksum": "crc32:00"}, "invalid checksum 'crc32:00': unsupported algorithm 'crc32'"),
        ({"checksum": 7}, "checksum must be text, got int"),
        ({"instrument": {"name": "EUI"}}, "instrument must be text, got an object"),
        ({"instrument": ["EUI"]}, "instrument must be text, got a list"),
        ({"slot": 3}, "slot must be text, got int"),
        ({"instrument": "E\x00UI"}, "instrument contains a NUL character"),
        ({"version": "\ud800"}, "version is not valid Unicode (a lone surrogate)"),
        ({"source": None}, "source must be text, got NoneType"),
        ({"obs_start": "2024-03-01"}, "obs_start must be a time, got str"),
        ({"obs_start": datetime(2024, 3, 1)}, "obs_start 2024-03-01T00:00:00 has no time zone"),
        (
            {
                "obs_start": datetime(2024, 3, 2, tzinfo=UTC),
                "obs_end": datetime(2024, 3, 1, tzinfo=UTC),
            },
            "obs_end 2024-03-01T00:00:00+00:00 is before obs_start 2024-03-02T00:00:00+00:00",
        ),
    ],
)
def test_a_value_the_engine_or_catalog_cannot_use_is_refused(
    values: dict[str, Any], message: str
) -> None:
    assert refusal(spec(**values)).startswith(message)


def test_aware_times_in_any_zone_are_fine() -> None:
    plus_two = timezone(timedelta(hours=2))
    validate_spec(spec(obs_start=datetime(2024, 3, 1, 2, tzinfo=plus_two)))


# --- a batch -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paths", "clash"),
    [
        (["a", "a/b"], PathClash(later="a/b", earlier="a")),
        (["a/b", "a"], PathClash(later="a", earlier="a/b")),
        (["x", "a/b/c", "y", "a/b"], PathClash(later="a/b", earlier="a/b/c")),
        (["a/b/c", "z", "a"], PathClash(later="a", earlier="a/b/c")),
        (["a", "ab/c", "a.b", "b/a"], None),
        (["a/b", "a/c", "a/b"], None),  # one path twice is not a clash of two
    ],
)
def test_a_path_that_is_a_directory_of_another_clashes(
    paths: list[str], clash: PathClash | None
) -> None:
    assert find_path_clash(paths) == clash


def test_a_clash_names_the_directory_both_need() -> None:
    clash = PathClash(later="a/b", earlier="a")
    assert clash.message("m.csv:2") == (
        "path 'a/b' clashes with 'a' of m.csv:2: 'a' cannot be both a file and a directory"
    )


def test_a_batch_names_the_file_of_each_refusal() -> None:
    with pytest.raises(InvalidSpecError) as caught:
        validate_specs([spec(), spec(url="https://h.example/b?sig=s3cr3t", checksum="md5:zz")])
    assert str(caught.value).startswith(
        "https://h.example/b?sig=REDACTED: invalid checksum 'md5:zz'"
    )
    with pytest.raises(InvalidSpecError) as caught:
        validate_specs([spec(path="a"), spec(url="https://h.example/b", path="a/b")])
    assert str(caught.value) == (
        "https://h.example/b: path 'a/b' clashes with 'a' of https://archive.example/data/a.fits:"
        " 'a' cannot be both a file and a directory"
    )
