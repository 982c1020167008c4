"""Directory listing pages as Apache, nginx, lighttpd and Python's http.server write them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from skyhaul.adapters.sources.autoindex import IndexEntry, parse_autoindex

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://archive.example/pub/lasco/level_05/240301/c2/"


def page(name: str) -> list[IndexEntry]:
    return parse_autoindex((FIXTURES / name).read_text(encoding="utf-8"), BASE)


def by_name(entries: list[IndexEntry]) -> dict[str, IndexEntry]:
    return {entry.name: entry for entry in entries}


def at(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fixture", "sizes", "exact"),
    [
        ("apache_table.html", (2202010, 524288, 845), (False, False, True)),
        ("apache_pre.html", (2202010, 524288, 845), (False, False, True)),
        ("nginx_exact.html", (2108160, 524288, 845), (True, True, True)),
        ("nginx_approx.html", (2097152, 524288, 845), (False, False, True)),
        ("lighttpd.html", (2097152, 524288, 922), (False, False, False)),
    ],
)
def test_sizes_and_their_exactness(
    fixture: str, sizes: tuple[int, ...], exact: tuple[bool, ...]
) -> None:
    entries = by_name(page(fixture))
    names = ("22812345.fts", "22812346.fts", "img_hdr.txt")
    assert tuple(entries[name].size for name in names) == sizes
    assert tuple(entries[name].size_exact for name in names) == exact


@pytest.mark.parametrize(
    ("fixture", "modified"),
    [
        ("apache_table.html", at(2024, 3, 1, 0, 31)),
        ("apache_pre.html", at(2024, 3, 1, 0, 31)),
        ("nginx_exact.html", at(2024, 3, 1, 0, 31)),
        ("nginx_approx.html", at(2024, 3, 1, 0, 31)),
        ("lighttpd.html", at(2024, 3, 1, 0, 31, 7)),
    ],
)
def test_modification_times(fixture: str, modified: datetime) -> None:
    entries = by_name(page(fixture))
    assert entries["22812345.fts"].modified == modified
    assert entries["calib"].modified is not None
    assert entries["calib"].modified.date() == datetime(2024, 2, 28).date()


@pytest.mark.parametrize(
    "fixture",
    [
        "apache_table.html",
        "apache_pre.html",
        "nginx_exact.html",
        "nginx_approx.html",
        "lighttpd.html",
    ],
)
def test_directories_urls_and_skipped_links(fixture: str) -> None:
    entries = page(fixture)
    names = [entry.name for entry in entries]
    # No parent link, no sort links, no ../, nothing outside the directory or off the host.
    assert {"22812345.fts", "22812346.fts", "img_hdr.txt", "calib"} <= set(names)
    assert len(names) == len(set(names))
    for entry in entries:
        assert entry.url.startswith(BASE)
        assert "/" not in entry.name and entry.name not in ("", ".", "..")
        assert "passwd" not in entry.url and "evil" not in entry.url and "secret" not in entry.url
    calib = by_name(entries)["calib"]
    assert calib.is_dir and calib.url == BASE + "calib/" and calib.size is None
    assert not by_name(entries)["22812345.fts"].is_dir


def test_names_come_from_the_link_target_decoded() -> None:
    # Apache cuts the link text ("a very long name for a file in th..>"); the href is whole.
    entry = by_name(page("apache_table.html"))["a very long name for a file in this archive.fts"]
    assert entry.url == BASE + "a%20very%20long%20name%20for%20a%20file%20in%20this%20archive.fts"
    assert entry.size == 0 and entry.size_exact


def test_python_http_server_listing() -> None:
    html = (
        '<!DOCTYPE HTML>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Directory listing for /pub/</title>\n</head>\n<body>\n"
        "<h1>Directory listing for /pub/</h1>\n<hr>\n<ul>\n"
        '<li><a href="240301/">240301/</a></li>\n'
        '<li><a href="efz20240301.120000.fts">efz20240301.120000.fts</a></li>\n'
        '<li><a href="link%20name">link name@</a></li>\n'
        "</ul>\n<hr>\n</body>\n</html>\n"
    )
    entries = parse_autoindex(html, "http://127.0.0.1:8000/pub/")
    assert [(e.name, e.is_dir, e.size, e.modified) for e in entries] == [
        ("240301", True, None, None),
        ("efz20240301.120000.fts", False, None, None),
        ("link name", False, None, None),
    ]


@pytest.mark.parametrize(
    "href",
    [
        "../../etc/passwd",
        "../",
        "/etc/passwd",
        "http://evil.example/x.fts",
        "//evil.example/pub/lasco/level_05/240301/c2/x.fts",
        "https://archive.example/pub/other/x.fts",
        "http://archive.example/pub/lasco/level_05/240301/c2/x.fts",  # other scheme
        "sub/deeper.fts",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e/",
        "x%00.fts",
        "x%0a.fts",
        "?C=M;O=A",
        "#top",
        "mailto:someone@example.org",
        "javascript:alert(1)",
        "x.fts?download=1",
    ],
)
def test_hostile_or_foreign_links_are_skipped(href: str) -> None:
    html = f'<pre><a href="{href}">x</a>   01-Mar-2024 12:00   123\n</pre>'
    assert parse_autoindex(html, BASE) == []


def test_absolute_link_inside_the_directory_is_kept() -> None:
    html = '<pre><a href="/pub/lasco/level_05/240301/c2/x.fts">x.fts</a>  01-Mar-2024 12:00  7\n'
    assert parse_autoindex(html, BASE) == [
        IndexEntry("x.fts", BASE + "x.fts", False, 7, True, at(2024, 3, 1, 12, 0))
    ]


def test_base_url_without_trailing_slash_is_the_directory() -> None:
    html = '<ul><li><a href="x.fts">x.fts</a></li></ul>'
    entries = parse_autoindex(html, BASE.rstrip("/"))
    assert [entry.url for entry in entries] == [BASE + "x.fts"]


def test_icon_links_do_not_hide_the_columns() -> None:
    # Apache with IconsAreLinks: the icon and the name link to the same file.
    html = (
        '<pre><a href="x.fts"><img src="/icons/unknown.gif" alt="[   ]"></a> '
        '<a href="x.fts">x.fts</a>   2024-03-01 12:00  4.0K\n</pre>'
    )
    assert parse_autoindex(html, BASE) == [
        IndexEntry("x.fts", BASE + "x.fts", False, 4096, False, at(2024, 3, 1, 12, 0))
    ]


def test_table_rows_spread_over_lines() -> None:
    html = """<table>
      <tr><th>Name</th><th>Last modified</th><th>Size</th></tr>
      <tr>
        <td><a href="x.fts">x.fts</a></td>
        <td>2024-03-01 12:00</td>
        <td>123456</td>
      </tr>
    </table>"""
    assert parse_autoindex(html, BASE) == [
        IndexEntry("x.fts", BASE + "x.fts", False, 123456, True, at(2024, 3, 1, 12, 0))
    ]


def test_rows_without_columns_and_impossible_dates() -> None:
    html = (
        "<pre>"
        '<a href="a.fts">a.fts</a>\n'
        '<a href="b.fts">b.fts</a>   31-Feb-2024 12:00   10\n'
        '<a href="c.fts">c.fts</a>   01-Foo-2024 12:00   10\n'
        "</pre>"
    )
    entries = by_name(parse_autoindex(html, BASE))
    assert (entries["a.fts"].size, entries["a.fts"].modified) == (None, None)
    assert (entries["b.fts"].size, entries["b.fts"].modified) == (10, None)
    assert entries["c.fts"].modified is None


def test_not_a_listing() -> None:
    assert parse_autoindex("", BASE) == []
    assert parse_autoindex("<html><body><p>Forbidden</p></body></html>", BASE) == []
    assert parse_autoindex("<a href='x.fts'>unclosed", BASE)[0].name == "x.fts"
