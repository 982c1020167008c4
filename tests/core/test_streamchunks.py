"""The chunk layout: headers both ways, refusals naming the field, plans, subjects, ids."""

from __future__ import annotations

import dataclasses

import pytest

from skyhaul.core import streamchunks as sc
from skyhaul.errors import ChunkFormatError, IntegrityError, UsageError

DATA = b"hello chunk"
META = sc.ChunkMeta(
    path="raw/2026 12/ü obs#1.fits",
    generation=3,
    file_hash=sc.digest(b"the whole file"),
    chunk_hash=sc.digest(DATA),
    offset=524_288,
    index=1,
    count=2,
    size=524_288 + len(DATA),
    mtime_ns=1_733_400_000_123_456_789,
)


def test_headers_round_trip_and_are_one_line_ascii() -> None:
    headers = sc.to_headers(META)
    assert sc.from_headers(headers) == META
    assert all(v.isascii() and "\n" not in v and "\r" not in v for v in headers.values())
    assert headers["Skyhaul-Path"] == "raw/2026%2012/%C3%BC%20obs%231.fits"


def test_every_field_of_the_meta_has_a_header() -> None:
    names = {f.name for f in dataclasses.fields(sc.ChunkMeta)}
    assert set(sc._FIELDS) == names
    assert len(sc.to_headers(META)) == len(names) + 1  # and the layout version


@pytest.mark.parametrize("header", sorted(sc.to_headers(META)))
def test_a_missing_header_is_refused_by_name(header: str) -> None:
    headers = sc.to_headers(META)
    del headers[header]
    with pytest.raises(ChunkFormatError, match=header):
        sc.from_headers(headers)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Skyhaul-Chunk-Layout", "2"),
        ("Skyhaul-Generation", "-1"),
        ("Skyhaul-Offset", "12.5"),
        ("Skyhaul-Size", "١٢"),  # Arabic-Indic digits: isdigit() but not ours
        ("Skyhaul-Count", ""),
        ("Skyhaul-File-Sha512", "AB" * 64),
        ("Skyhaul-Chunk-Sha512", "ab" * 32),
        ("Skyhaul-Path", "../etc/passwd"),
        ("Skyhaul-Path", "/abs"),
        ("Skyhaul-Path", "a//b"),
        ("Skyhaul-Path", "a%5Cb"),
        ("Skyhaul-Path", "a%FF"),
        ("Skyhaul-Path", "x.fits.skyhaul.part"),
        ("Skyhaul-Index", "2"),  # index == count
        ("Skyhaul-Count", "0"),
        ("Skyhaul-Offset", str(META.size + 1)),
    ],
)
def test_a_bad_value_is_refused_by_name(header: str, value: str) -> None:
    headers = {**sc.to_headers(META), header: value}
    with pytest.raises(ChunkFormatError, match=header):
        sc.from_headers(headers)


def test_check_chunk_accepts_its_bytes_and_refuses_others() -> None:
    sc.check_chunk(META, DATA)
    with pytest.raises(IntegrityError, match="sha512 mismatch"):
        sc.check_chunk(META, b"hello chunK")
    with pytest.raises(IntegrityError, match="past the file's end"):
        sc.check_chunk(META, DATA + b"!")


@pytest.mark.parametrize(
    ("size", "chunk", "expected"),
    [
        (0, 4, [(0, 0, 0)]),
        (1, 4, [(0, 0, 1)]),
        (4, 4, [(0, 0, 4)]),
        (5, 4, [(0, 0, 4), (1, 4, 1)]),
        (12, 4, [(0, 0, 4), (1, 4, 4), (2, 8, 4)]),
    ],
)
def test_plans_cover_every_byte_once(
    size: int, chunk: int, expected: list[tuple[int, int, int]]
) -> None:
    assert [dataclasses.astuple(s) for s in sc.plan_chunks(size, chunk)] == expected


def test_the_default_plan_is_openmsistreams() -> None:
    plan = sc.plan_chunks(20 * 1024 * 1024 + 1)
    assert len(plan) == 41 and plan[0].length == 524_288 and plan[-1].length == 1


@pytest.mark.parametrize(("size", "chunk"), [(10, 0), (-1, 4)])
def test_a_bad_plan_is_refused(size: int, chunk: int) -> None:
    with pytest.raises(UsageError):
        sc.plan_chunks(size, chunk)


@pytest.mark.parametrize("path", ["a", "raw/x.fits", "ü/ space/*>.", "a" * 300])
def test_tokens_are_subject_safe_and_invertible(path: str) -> None:
    token = sc.file_token(path)
    assert set(token) <= set("abcdefghijklmnopqrstuvwxyz234567")
    assert sc.path_of_token(token) == path
    assert sc.file_subject("lab-1", path) == f"lab-1.files.{token}"


@pytest.mark.parametrize("token", ["", "A", "a.b", "1"])
def test_a_foreign_token_is_refused(token: str) -> None:
    with pytest.raises(ChunkFormatError):
        sc.path_of_token(token)


def test_subjects_and_message_ids() -> None:
    assert sc.stream_subjects("lab_1") == "lab_1.files.>"
    assert sc.message_id(META) == f"{sc.file_token(META.path)}:3:524288"


@pytest.mark.parametrize("name", ["", "a.b", "a b", "a*", "a>", "x" * 65])
def test_bad_stream_names_are_refused(name: str) -> None:
    with pytest.raises(UsageError, match="invalid stream name"):
        sc.stream_subjects(name)


@pytest.mark.parametrize("path", ["a\\b", "x.skyhaul.part", "../a", "a/"])
def test_a_producer_refuses_a_path_no_receiver_would_take(path: str) -> None:
    with pytest.raises(ChunkFormatError, match="cannot stream"):
        sc.check_path(path)
