"""The mission metadata declaration: kinds, inheritance by the model, parsing by kind."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime

import pytest

from skyhaul.core import metadata
from skyhaul.core.lifecycle import FileState
from skyhaul.core.metadata import (
    METADATA_KINDS,
    METADATA_NAMES,
    MetadataKind,
    MetadataValueError,
    MissionMetadata,
    metadata_of,
    parse_metadata,
    parse_metadata_value,
)
from skyhaul.core.model import FileRecord, FileSpec
from skyhaul.core.timeparse import parse_utc

START = datetime(2024, 3, 1, 12, tzinfo=UTC)


def test_the_declaration_and_its_kinds() -> None:
    assert METADATA_NAMES == ("instrument", "obs_start", "obs_end", "downlink_time", "slot")
    assert dict(METADATA_KINDS) == {
        "instrument": MetadataKind.TEXT,
        "obs_start": MetadataKind.TIME,
        "obs_end": MetadataKind.TIME,
        "downlink_time": MetadataKind.TIME,
        "slot": MetadataKind.TEXT,
    }
    with pytest.raises(TypeError):
        METADATA_KINDS["exposure"] = MetadataKind.FLOAT  # type: ignore[index]


def test_kinds_follow_from_types() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Fits:
        target: str | None = None
        exposure: float | None = None
        frames: int | None = None
        taken: datetime | None = None

    assert metadata._kinds(Fits) == {
        "target": MetadataKind.TEXT,
        "exposure": MetadataKind.FLOAT,
        "frames": MetadataKind.INT,
        "taken": MetadataKind.TIME,
    }


@pytest.mark.parametrize("annotation", ["bytes | None", "str", "str | int | None"])
def test_a_field_of_no_kind_fails_at_once(annotation: str) -> None:
    namespace = {"__annotations__": {"odd": annotation}, "odd": None}
    odd = dataclasses.dataclass(type("Odd", (), namespace))
    with pytest.raises(TypeError, match="mission metadata field odd"):
        metadata._kinds(odd)


def test_a_field_must_default_to_unknown() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Known:
        instrument: str | None = "EUI"

    with pytest.raises(TypeError, match="None by default"):
        metadata._kinds(Known)


# --- the model inherits it -----------------------------------------------------------


def test_specs_take_metadata_by_keyword_and_keep_their_positions() -> None:
    spec = FileSpec("https://a.example/f", "f", 3, "sha256:ab", "src", "v1", instrument="EUI")
    assert isinstance(spec, MissionMetadata)
    assert (spec.size, spec.checksum, spec.source, spec.version) == (3, "sha256:ab", "src", "v1")
    assert spec.instrument == "EUI"
    assert spec.obs_start is None
    own = ("url", "path", "size", "checksum", "source", "version", "mirrors")
    assert FileSpec.__match_args__ == own
    with pytest.raises(TypeError):
        FileSpec("u", "p", None, None, "cli", None, (), "EUI")  # type: ignore[misc]


def test_records_take_metadata_by_keyword() -> None:
    record = FileRecord(1, "u", "p", "/d", FileState.DISCOVERED, slot="S1", obs_start=START)
    assert isinstance(record, MissionMetadata)
    assert (record.id, record.state, record.slot, record.obs_start) == (
        1,
        FileState.DISCOVERED,
        "S1",
        START,
    )


def test_inherited_fields_are_frozen_slotted_compared_and_replaced() -> None:
    spec = FileSpec(url="u", path="p", instrument="EUI", obs_start=START)
    assert not hasattr(spec, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.instrument = "PHI"  # type: ignore[misc]
    other = dataclasses.replace(spec, instrument="PHI")
    assert other.instrument == "PHI"
    assert other.obs_start == START
    assert other != spec
    assert dataclasses.replace(other, instrument="EUI") == spec
    assert hash(dataclasses.replace(other, instrument="EUI")) == hash(spec)
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_metadata_of() -> None:
    spec = FileSpec(url="u", path="p", size=1, instrument="EUI", obs_start=START, slot="S1")
    assert metadata_of(spec) == {
        "instrument": "EUI",
        "obs_start": START,
        "obs_end": None,
        "downlink_time": None,
        "slot": "S1",
    }
    assert FileSpec(url="u", path="p", size=1, **metadata_of(spec)) == spec


# --- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        (MetadataKind.TEXT, "EUI", "EUI"),
        (MetadataKind.TIME, "2024-03-01T12:00:00Z", START),
        (MetadataKind.TIME, "2024-03-01 13:00+01:00", START),
        (MetadataKind.FLOAT, "12.5", 12.5),
        (MetadataKind.FLOAT, "-1e3", -1000.0),
        (MetadataKind.INT, "42", 42),
        (MetadataKind.INT, " -7 ", -7),
    ],
)
def test_parse_a_value_by_kind(kind: MetadataKind, text: str, value: object) -> None:
    parsed = parse_metadata_value(kind, text)
    assert parsed == value
    assert type(parsed) is type(value)
    if isinstance(parsed, datetime):
        assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        (MetadataKind.TIME, "noon", "'noon' is not an ISO 8601 date or time (e.g. 2024-03-01"),
        (MetadataKind.FLOAT, "fast", "'fast' is not a number"),
        (MetadataKind.FLOAT, "nan", "'nan' is not a number"),
        (MetadataKind.FLOAT, "inf", "'inf' is not a number"),
        (MetadataKind.INT, "1.5", "'1.5' is not a whole number"),
        (MetadataKind.INT, "+-3", "'+-3' is not a whole number"),
        (MetadataKind.INT, "٣", "'٣' is not a whole number"),
    ],
)
def test_a_bad_value_says_what_is_wrong(kind: MetadataKind, text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_metadata_value(kind, text)
    assert str(caught.value).startswith(message)


def test_parse_metadata_of_a_record() -> None:
    raw = {"instrument": "EUI", "obs_start": "2024-03-01T12:00:00Z", "slot": "S1"}
    asked: list[str] = []

    def text_of(name: str) -> str | None:
        asked.append(name)
        return raw.get(name)

    assert parse_metadata(text_of) == {
        "instrument": "EUI",
        "obs_start": START,
        "obs_end": None,
        "downlink_time": None,
        "slot": "S1",
    }
    assert tuple(asked) == METADATA_NAMES


def test_parse_metadata_names_the_bad_field() -> None:
    raw = {"obs_start": "2024-03-01", "downlink_time": "later", "obs_end": "soon"}
    with pytest.raises(MetadataValueError) as caught:
        parse_metadata(raw.get)
    assert caught.value.field == "obs_end"  # the first in declaration order
    with pytest.raises(ValueError) as today:
        parse_utc("soon")
    assert str(caught.value) == str(today.value)  # the message callers have always shown
