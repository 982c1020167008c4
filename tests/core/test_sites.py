from __future__ import annotations

import pytest

from skyhaul.core.sites import (
    Location,
    LocationType,
    archive_order,
    check_location_url,
    parse_location_ref,
    primary_buffer,
)


def loc(
    site: str,
    name: str,
    type: LocationType = LocationType.BUFFER,
    *,
    priority: int = 0,
    active: bool = True,
) -> Location:
    return Location(0, site, name, type, f"file:///data/{site}/{name}", priority, active)


def test_location_type_values_are_lowercase() -> None:
    assert [t.value for t in LocationType] == [
        "source",
        "buffer",
        "long_term_archive",
        "processing",
    ]


def test_parse_location_ref() -> None:
    assert parse_location_ref("ccat/buffer-1") == ("ccat", "buffer-1")
    assert loc("ccat", "buffer-1").ref == "ccat/buffer-1"


@pytest.mark.parametrize(
    "text", ["ccat", "ccat/", "/x", "a/b/c", "", "a b/c", "../x", "ccat/.hidden"]
)
def test_bad_location_refs_say_what_a_ref_is(text: str) -> None:
    with pytest.raises(ValueError, match=r"SITE/NAME|bad (site|location) name"):
        parse_location_ref(text)


@pytest.mark.parametrize("url", ["file:///data/x", "s3://bucket", "s3://bucket/prefix/a"])
def test_good_location_urls(url: str) -> None:
    assert check_location_url(url) == url


@pytest.mark.parametrize(
    "url", ["file://host/x", "file:relative", "http://x/y", "s3:///nobucket", "/data/x"]
)
def test_bad_location_urls(url: str) -> None:
    with pytest.raises(ValueError, match="bad location URL"):
        check_location_url(url)


def test_primary_buffer_is_the_usable_active_buffer_of_highest_priority() -> None:
    locations = [
        loc("ccat", "low", priority=1),
        loc("ccat", "high", priority=9),
        loc("ccat", "off", priority=99, active=False),
        loc("ccat", "src", LocationType.SOURCE, priority=100),
        loc("cologne", "other", priority=50),
    ]
    asked: list[str] = []

    def usable(location: Location) -> bool:
        asked.append(location.name)
        return True

    chosen = primary_buffer(locations, "ccat", usable=usable)
    assert chosen is not None and chosen.name == "high"
    assert asked == ["high"]  # only asked until one will do


def test_primary_buffer_fails_over_to_the_next_and_may_find_none() -> None:
    locations = [loc("ccat", "a", priority=2), loc("ccat", "b", priority=1)]
    chosen = primary_buffer(locations, "ccat", usable=lambda b: b.name != "a")
    assert chosen is not None and chosen.name == "b"
    assert primary_buffer(locations, "ccat", usable=lambda _l: False) is None
    assert primary_buffer(locations, "nowhere", usable=lambda _l: True) is None


def archive(site: str, name: str, **kw: object) -> Location:
    return loc(site, name, LocationType.LONG_TERM_ARCHIVE, **kw)  # type: ignore[arg-type]


def test_archive_order_goes_round_robin_across_sites() -> None:
    archives = [
        archive("cologne", "tape", priority=1),
        archive("cologne", "disk", priority=5),
        archive("cornell", "s3"),
        archive("zz", "off", active=False),
        loc("cornell", "buf"),
    ]
    names = lambda order: [a.ref for a in order]  # noqa: E731
    assert names(archive_order(archives, None)) == ["cologne/disk", "cologne/tape", "cornell/s3"]
    assert names(archive_order(archives, "cologne"))[0] == "cornell/s3"
    assert names(archive_order(archives, "cornell"))[0] == "cologne/disk"
    assert names(archive_order(archives, "gone"))[0] == "cologne/disk"
    assert archive_order([], None) == []


def test_round_robin_spreads_transfers_evenly() -> None:
    archives = [archive(site, "a") for site in ("s1", "s2", "s3")]
    last = None
    counts: dict[str, int] = {}
    for _ in range(9):
        chosen = archive_order(archives, last)[0]
        counts[chosen.site] = counts.get(chosen.site, 0) + 1
        last = chosen.site
    assert counts == {"s1": 3, "s2": 3, "s3": 3}
