"""Destination paths never escape the destination root."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyhaul.core.paths import is_normal_path, path_from_url, safe_relative_path
from skyhaul.errors import PathEscapeError


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.fits", "a.fits"),
        ("2024/01/02/a.fits", "2024/01/02/a.fits"),
        ("./a.fits", "a.fits"),
        ("a//b/./c", "a/b/c"),
        ("a/b/", "a/b"),
        ("a\\b\\c.fits", "a/b/c.fits"),  # backslashes are separators
        (".hidden", ".hidden"),
        ("a..b", "a..b"),
        ("..a", "..a"),
        ("v1.2/file..fits", "v1.2/file..fits"),
        ("2024-01-01T00:00:00.fits", "2024-01-01T00:00:00.fits"),
        ("data/C:x", "data/C:x"),  # a colon later on is just a character on POSIX
        ("ünïcode/ファイル.fits", "ünïcode/ファイル.fits"),
    ],
)
def test_safe_relative_path_accepts_and_normalises(path: str, expected: str) -> None:
    result = safe_relative_path(path)
    assert result == PurePosixPath(expected)
    assert not result.is_absolute()
    assert ".." not in result.parts


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("/etc/passwd", "absolute"),
        ("\\windows\\system32", "absolute"),
        ("//server/share/x", "absolute"),
        ("C:\\x", "drive"),
        ("C:/x", "drive"),
        ("c:x", "drive"),
        ("..", "'..'"),
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("a/..", "'..'"),
        ("..\\x", "'..'"),
        ("a\\..\\..\\x", "'..'"),
        ("...", "'..'"),
        (".. /x", "'..'"),
        ("a\x00b", "NUL"),
        (".", "no file name"),
        ("./", "no file name"),
        ("a/../b", "'..'"),  # even when it would stay inside: no '..' at all
    ],
)
def test_safe_relative_path_refuses(path: str, why: str) -> None:
    with pytest.raises(PathEscapeError, match=why) as excinfo:
        safe_relative_path(path)
    message = str(excinfo.value)
    assert repr(path) in message
    assert "\n" not in message
    assert excinfo.value.exit_code == 2


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://archive.example/data/a.fits", "a.fits"),
        ("https://archive.example/data/img%201.fits?sig=x#frag", "img 1.fits"),
        ("https://archive.example/", "index.html"),
        ("https://archive.example", "index.html"),
        ("https://archive.example/dir/", "index.html"),
        ("https://archive.example/..", "index.html"),
        ("https://archive.example/%2E%2E", "index.html"),
        ("https://archive.example/a%2F..%2Fb", "a_.._b"),
        ("https://archive.example/a%5Cb", "a_b"),
        ("https://archive.example/a%00b", "a_b"),
        ("https://archive.example/C%3Afoo", "C_foo"),
        ("https://archive.example/t%3D2024-01-01T00%3A00.fits", "t=2024-01-01T00:00.fits"),
        ("https://archive.example/%E2%9C%93.fits", "✓.fits"),
        ("https://archive.example/%ZZ", "%ZZ"),
        ("not a url", "not a url"),
        ("http://[::1/x.fits", "x.fits"),
    ],
)
def test_path_from_url(url: str, expected: str) -> None:
    name = path_from_url(url)
    assert name == expected
    assert safe_relative_path(name) == PurePosixPath(name)


def test_path_from_url_cuts_long_names_keeping_the_extension() -> None:
    name = path_from_url("https://h/" + "x" * 400 + ".fits")
    assert name.endswith(".fits")
    assert len(name.encode()) == 242  # its part file's name is 255 bytes


def test_path_from_url_cuts_multibyte_names_on_a_character_boundary() -> None:
    name = path_from_url("https://h/" + "é" * 300)
    assert len(name.encode()) <= 242
    assert set(name) == {"é"}


@settings(max_examples=500, database=None)
@given(st.text(alphabet=st.sampled_from("ab./\\ :\x00\tC"), max_size=12) | st.text(max_size=12))
def test_is_normal_path_says_whether_safe_relative_path_keeps_a_path(path: str) -> None:
    try:
        kept = str(safe_relative_path(path)) == path
    except PathEscapeError:
        kept = False
    assert is_normal_path(path) is kept
