"""``skyhaul site`` and ``skyhaul location`` on a real catalog: add, list, set, and bad
input as one line with exit code 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import Result

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.sites import LocationType

Invoke = Callable[..., Result]
NOW = datetime.now(UTC)


def test_sites_and_locations_are_added_listed_and_switched(
    skyhaul: Invoke, catalog: Catalog, tmp_path: Path
) -> None:
    assert skyhaul("site", "add", "obs", "--short-name", "O").exit_code == 0
    url = (tmp_path / "src").as_uri()
    added = skyhaul("location", "add", "obs/src", "--type", "source", "--url", url)
    assert added.exit_code == 0, added.output
    assert "obs/src" in added.stdout
    made = skyhaul(
        "location", "add", "obs/buf2", "--type", "BUFFER", "--url", "s3://bucket/buf",
        "--priority", "5", "--inactive", "--json",
    )  # fmt: skip
    assert json.loads(made.stdout)["active"] is False
    [buffer] = catalog.list_locations(type=LocationType.BUFFER)
    assert (buffer.priority, buffer.active, buffer.url) == (5, False, "s3://bucket/buf")
    switched = skyhaul("location", "set", "obs/buf2", "--active")
    assert switched.exit_code == 0 and "active" in switched.stdout
    location = catalog.location("obs", "buf2")
    assert location is not None and location.active
    listed = json.loads(skyhaul("location", "list", "--json").stdout)
    assert [(d["ref"], d["type"], d["active"]) for d in listed] == [
        ("obs/buf2", "buffer", True),
        ("obs/src", "source", True),
    ]
    sites = json.loads(skyhaul("site", "list", "--json").stdout)
    assert [(s["name"], s["short_name"], len(s["locations"])) for s in sites] == [("obs", "O", 2)]
    table = skyhaul("location", "list").stdout
    assert "obs/src" in table and "s3://bucket/buf" in table
    assert "obs" in skyhaul("site", "list").stdout


def test_empty_lists_say_how_to_add(skyhaul: Invoke, catalog: Catalog) -> None:
    assert "skyhaul site add" in skyhaul("site", "list").stdout
    assert "skyhaul location add" in skyhaul("location", "list").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("site", "add", "obs"), "exists already"),
        (("site", "add", "bad name"), "bad site name"),
        (("location", "add", "nosite/x", "--type", "buffer", "--url", "s3://b"), "no site"),
        (("location", "add", "obs", "--type", "buffer", "--url", "s3://b"), "SITE/NAME"),
        (("location", "add", "obs/x", "--type", "tape", "--url", "s3://b"), "'tape'"),
        (
            ("location", "add", "obs/x", "--type", "buffer", "--url", "http://h/x"),
            "bad location URL",
        ),
        (("location", "set", "obs/nope", "--inactive"), "no location obs/nope"),
        (("location", "set", "obs/src"), "--active or --inactive"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    skyhaul: Invoke, catalog: Catalog, args: tuple[str, ...], message: str
) -> None:
    catalog.add_site("obs", now=NOW)
    catalog.add_location("obs", "src", LocationType.SOURCE, "file:///data/src", now=NOW)
    result = skyhaul(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
