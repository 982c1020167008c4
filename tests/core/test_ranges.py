"""Byte ranges: segment plans, resume arithmetic, and the HTTP wire formats."""

from __future__ import annotations

import pytest

from skyhaul.core.ranges import (
    ByteRange,
    ContentRange,
    contiguous_prefix,
    format_content_range,
    if_range_value,
    iter_segments,
    merge_ranges,
    missing_ranges,
    parse_content_range,
    parse_range_header,
    parse_unsatisfied_range,
    plan_segments,
)

B = ByteRange
MIB8 = 8 * 1024 * 1024


@pytest.mark.parametrize(("start", "end"), [(-1, 5), (5, 5), (6, 5)])
def test_byte_range_refuses_empty_and_negative(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="invalid byte range"):
        ByteRange(start, end)


@pytest.mark.parametrize(
    ("r", "length", "header"),
    [
        (B(0, MIB8), MIB8, "bytes=0-8388607"),
        (B(0, 1), 1, "bytes=0-0"),
        (B(100, 200), 100, "bytes=100-199"),
    ],
)
def test_byte_range_length_and_header(r: ByteRange, length: int, header: str) -> None:
    assert r.length == length
    assert r.header_value() == header
    assert parse_range_header(header, 10**9) == r


def test_byte_ranges_order_by_start() -> None:
    assert sorted([B(5, 6), B(0, 9), B(0, 3)]) == [B(0, 3), B(0, 9), B(5, 6)]


@pytest.mark.parametrize(
    ("ranges", "expected"),
    [
        ([], []),
        ([B(0, 10)], [B(0, 10)]),
        ([B(10, 20), B(0, 10)], [B(0, 20)]),  # touching
        ([B(0, 15), B(10, 20)], [B(0, 20)]),  # overlapping
        ([B(0, 5), B(10, 20)], [B(0, 5), B(10, 20)]),  # gap
        ([B(0, 100), B(10, 20)], [B(0, 100)]),  # contained
        ([B(30, 40), B(0, 5), B(5, 10), B(20, 30)], [B(0, 10), B(20, 40)]),
    ],
)
def test_merge_ranges(ranges: list[ByteRange], expected: list[ByteRange]) -> None:
    assert merge_ranges(ranges) == expected
    assert merge_ranges(iter(ranges)) == expected


@pytest.mark.parametrize(
    ("size", "done", "expected"),
    [
        (0, [], []),
        (100, [], [B(0, 100)]),
        (100, [B(0, 100)], []),
        (100, [B(0, 40)], [B(40, 100)]),
        (100, [B(60, 100)], [B(0, 60)]),
        (100, [B(10, 20), B(50, 60)], [B(0, 10), B(20, 50), B(60, 100)]),
        (100, [B(50, 200)], [B(0, 50)]),  # clipped to size
        (100, [B(150, 200)], [B(0, 100)]),
    ],
)
def test_missing_ranges(size: int, done: list[ByteRange], expected: list[ByteRange]) -> None:
    assert missing_ranges(size, done) == expected


@pytest.mark.parametrize(
    ("size", "seg", "done", "expected"),
    [
        (0, 10, [], []),
        (25, 10, [], [B(0, 10), B(10, 20), B(20, 25)]),
        (20, 10, [], [B(0, 10), B(10, 20)]),
        (5, 10, [], [B(0, 5)]),
        (25, 10, [B(0, 10)], [B(10, 20), B(20, 25)]),
        # a partial segment done: the rest is cut at the same aligned boundary
        (25, 10, [B(0, 13)], [B(13, 20), B(20, 25)]),
        (25, 10, [B(3, 17)], [B(0, 3), B(17, 20), B(20, 25)]),
        (25, 10, [B(0, 25)], []),
    ],
)
def test_plan_segments(
    size: int, seg: int, done: list[ByteRange], expected: list[ByteRange]
) -> None:
    assert plan_segments(size, seg, done) == expected


@pytest.mark.parametrize("size", [1, 9, 10, 11, 99, 100, 101, 1234])
@pytest.mark.parametrize("seg", [1, 3, 10, 64])
def test_plan_segments_covers_exactly_and_replans_to_the_same_pieces(size: int, seg: int) -> None:
    plan = plan_segments(size, seg)
    assert merge_ranges(plan) == [B(0, size)]
    assert sum(r.length for r in plan) == size
    assert all(r.length <= seg and r.start // seg == (r.end - 1) // seg for r in plan)
    # finish every other segment, crash, re-plan: the rest of the original plan, unchanged
    done = plan[::2]
    assert plan_segments(size, seg, done) == plan[1::2]


def test_segments_come_one_at_a_time_for_a_file_claimed_to_be_huge() -> None:
    # A 206 may claim 2**62 bytes: half a trillion segments, never planned all at once.
    pieces = iter_segments(2**62, 8 << 20, [B(0, 8 << 20)])
    assert next(pieces) == B(8 << 20, 16 << 20)
    assert list(iter_segments(100, 10, [B(0, 95)])) == plan_segments(100, 10, [B(0, 95)])


def test_plan_segments_refuses_bad_segment_size() -> None:
    with pytest.raises(ValueError, match="segment size"):
        plan_segments(10, 0)


@pytest.mark.parametrize(
    ("done", "expected"),
    [
        ([], 0),
        ([B(0, 10)], 10),
        ([B(5, 10)], 0),
        ([B(0, 10), B(10, 20), B(30, 40)], 20),
        ([B(10, 20), B(0, 12)], 20),
    ],
)
def test_contiguous_prefix(done: list[ByteRange], expected: int) -> None:
    assert contiguous_prefix(done) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes 0-99/1000", ContentRange(0, 100, 1000)),
        ("bytes 0-99/*", ContentRange(0, 100, None)),
        ("bytes 999-999/1000", ContentRange(999, 1000, 1000)),
        ("Bytes 8388608-16777215/20000000", ContentRange(8388608, 16777216, 20000000)),
        ("  bytes 5-9/10 ", ContentRange(5, 10, 10)),
    ],
)
def test_parse_content_range(value: str, expected: ContentRange) -> None:
    parsed = parse_content_range(value)
    assert parsed == expected
    assert parsed.byte_range == B(expected.start, expected.end)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "bytes */1000",
        "bytes 0-99",
        "bytes 0-99/",
        "bytes=0-99/1000",
        "items 0-99/1000",
        "bytes 99-0/1000",  # last before first
        "bytes 0-1000/1000",  # past the total
        "bytes -1-5/10",
        "bytes 0-99/1000, bytes 100-199/1000",
        "bytes 0 - 99/1000",
        "bytes 1.0-2/3",
        # Past what a file offset holds: a total of 10**23 once overflowed the part file.
        f"bytes 0-9/{10**23}",
        f"bytes 0-{2**63 - 1}/*",
        f"bytes 0-9/{2**63}",
        f"bytes 0-9/{'9' * 5000}",
    ],
)
def test_parse_content_range_refuses(value: str) -> None:
    with pytest.raises(ValueError, match="Content-Range"):
        parse_content_range(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes */1000", 1000),
        ("bytes */0", 0),
        ("bytes 0-99/1000", None),
        ("bytes */*", None),
        ("garbage", None),
        (f"bytes */{10**23}", None),
    ],
)
def test_parse_unsatisfied_range(value: str, expected: int | None) -> None:
    assert parse_unsatisfied_range(value) == expected


@pytest.mark.parametrize(
    ("r", "total", "expected"),
    [(B(0, 100), 1000, "bytes 0-99/1000"), (B(999, 1000), 1000, "bytes 999-999/1000")],
)
def test_format_content_range_round_trips(r: ByteRange, total: int, expected: str) -> None:
    assert format_content_range(r, total) == expected
    assert parse_content_range(expected) == ContentRange(r.start, r.end, total)


def test_format_content_range_refuses_a_range_past_the_total() -> None:
    with pytest.raises(ValueError):
        format_content_range(B(0, 11), 10)


@pytest.mark.parametrize(
    ("value", "size", "expected"),
    [
        ("bytes=0-99", 1000, B(0, 100)),
        ("bytes=0-", 1000, B(0, 1000)),
        ("bytes=500-", 1000, B(500, 1000)),
        ("bytes=900-2000", 1000, B(900, 1000)),  # end clamped
        ("bytes=-100", 1000, B(900, 1000)),  # suffix
        ("bytes=-5000", 1000, B(0, 1000)),  # suffix longer than the file
        ("bytes=999-999", 1000, B(999, 1000)),
        ("BYTES = 1 - 2", 1000, B(1, 3)),
        # unsatisfiable: 416
        ("bytes=1000-", 1000, None),
        ("bytes=1000-1999", 1000, None),
        ("bytes=-0", 1000, None),
        ("bytes=0-", 0, None),
        ("bytes=-10", 0, None),
    ],
)
def test_parse_range_header(value: str, size: int, expected: ByteRange | None) -> None:
    assert parse_range_header(value, size) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "bytes=",
        "bytes=-",
        "bytes=5-2",
        "bytes=a-b",
        "bytes=0-1,5-6",
        "bytes=0-1, 5-",
        "items=0-1",
        "bytes 0-1",
        "bytes=+1-2",
        "bytes=1--2",
    ],
)
def test_parse_range_header_refuses_malformed_and_multi_range(value: str) -> None:
    with pytest.raises(ValueError):
        parse_range_header(value, 1000)


@pytest.mark.parametrize(
    ("etag", "last_modified", "expected"),
    [
        ('"abc"', "Wed, 21 Oct 2015 07:28:00 GMT", '"abc"'),
        ('"abc"', None, '"abc"'),
        ('W/"abc"', "Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ('w/"abc"', "Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ('W/"abc"', None, None),
        (None, "Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ("", "", None),
        (None, None, None),
    ],
)
def test_if_range_value_never_uses_a_weak_etag(
    etag: str | None, last_modified: str | None, expected: str | None
) -> None:
    assert if_range_value(etag, last_modified) == expected
