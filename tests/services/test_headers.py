"""FITS header queries: conditions in every form, files named by id or path, the document
``fits show --json`` prints; on a real SQLite catalog."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.fitsheaders import FitsHeaders, HduHeader
from skyhaul.core.fitsquery import parse_condition
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import Completion, FileSpec, Selection
from skyhaul.errors import UsageError
from skyhaul.services.headers import (
    file_named,
    find_files,
    header_selection,
    headers_document,
    parse_where,
)

from .conftest import NOW

HEADERS = FitsHeaders(
    (
        HduHeader(
            0,
            "PRIMARY",
            (
                ("SIMPLE", True, "conforms"),
                ("INSTRUME", "NIRCAM", ""),
                ("TARGNAME", "NGC 3132", "target"),
                ("DATE-OBS", "2022-06-03T12:30:00", ""),
            ),
        ),
        HduHeader(1, "SCI", (("EXTNAME", "SCI", ""), ("XPOSURE", 1234.5, ""))),
    )
)


@pytest.fixture
def stored(catalog: Catalog, tmp_path: Path) -> Catalog:
    """Two files under ``tmp_path/dest``: ``a.fits`` with headers and origin, ``b.fits``."""
    specs = [
        FileSpec("https://mast.example/a.fits", "sub/a.fits", origin='{"obsid": "42"}'),
        FileSpec("https://mast.example/b.fits", "b.fits"),
    ]
    catalog.register(specs, str(tmp_path / "dest"), now=NOW)
    claimed = catalog.claim_batch("w", 2, now=NOW, lease_seconds=30)
    items = [
        Completion(r.id, 1, "ab" * 32, headers=HEADERS if r.path == "sub/a.fits" else None)
        for r in claimed
    ]
    catalog.complete_many(items, "w", now=NOW)
    return catalog


def test_conditions_come_as_texts_a_mapping_or_a_target() -> None:
    expected = (parse_condition("INSTRUME=NIRCAM"), parse_condition("EXPTIME>=100"))
    assert parse_where(["instrume=nircam", "EXPTIME>=100"]) == expected
    assert parse_where("INSTRUME=NIRCAM") == expected[:1]
    mapping = {"INSTRUME": "nircam", "EXPTIME": 12, "DATE-OBS": datetime(2022, 6, 3, tzinfo=UTC)}
    assert [str(c) for c in parse_where(mapping)] == [
        "INSTRUME=NIRCAM",
        "EXPTIME=12.0",
        "DATE-OBS=2022-06-03T00:00:00+00:00",
    ]
    assert parse_where(None, "ngc*") == (parse_condition("TARGNAME=NGC*"),)
    assert parse_where(None) == ()


@pytest.mark.parametrize("where", ["INSTRUME", ["FOO=1"], {"EXPTIME": "abc"}])
def test_a_bad_condition_is_a_usage_error(where: object) -> None:
    with pytest.raises(UsageError) as caught:
        parse_where(where)  # type: ignore[arg-type]
    assert caught.value.exit_code == 2 and "\n" not in str(caught.value)


def test_conditions_narrow_a_selection() -> None:
    states = frozenset({FileState.DOWNLOADED})
    narrowed = header_selection(Selection(states=states), ["INSTRUME=NIRCAM"], "M 42")
    assert narrowed == Selection(
        states=states,
        headers=(parse_condition("INSTRUME=NIRCAM"), parse_condition("TARGNAME=M 42")),
    )
    assert header_selection(None) is None


def test_find_files(stored: Catalog) -> None:
    assert [r.path for r in find_files(stored, where={"INSTRUME": "nircam"})] == ["sub/a.fits"]
    assert find_files(stored, target="ngc 3*") == find_files(stored, where="TARGNAME=NGC*")
    assert find_files(stored, where=["DATE-OBS=2022-06-04"]) == []


def test_a_file_is_named_by_id_or_by_path(
    stored: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = file_named(stored, 1)
    assert a.path == "sub/a.fits"
    assert file_named(stored, "1") == a
    assert file_named(stored, str(tmp_path / "dest" / "sub" / "a.fits")) == a
    assert file_named(stored, "dest/sub/a.fits", cwd=tmp_path) == a
    (tmp_path / "dest" / "sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "dest")
    monkeypatch.chdir(tmp_path / "link")
    assert file_named(stored, "sub/../sub/a.fits") == a  # through a symlink, not normalised
    with pytest.raises(UsageError, match="no file 9 in the catalog"):
        file_named(stored, "9")
    with pytest.raises(UsageError, match="no file 99999999999999999999 in the catalog"):
        file_named(stored, "99999999999999999999")
    with pytest.raises(UsageError, match=r"no file in the catalog is stored at .*/nope\.fits"):
        file_named(stored, "nope.fits")


def test_the_document_holds_values_cards_and_origin(stored: Catalog, tmp_path: Path) -> None:
    document = headers_document(stored, 1)
    assert document["path"] == str(tmp_path / "dest" / "sub" / "a.fits")
    assert document["state"] == "DOWNLOADED"
    assert document["values"] == {
        "TELESCOP": None,
        "INSTRUME": "NIRCAM",
        "DETECTOR": None,
        "FILTER": None,
        "TARGNAME": "NGC 3132",
        "RA_TARG": None,
        "DEC_TARG": None,
        "DATE-OBS": "2022-06-03T12:30:00+00:00",
        "EXPTIME": 1234.5,
    }
    assert document["hdus"][1] == {  # type: ignore[index]
        "index": 1,
        "name": "SCI",
        "cards": [["EXTNAME", "SCI", ""], ["XPOSURE", 1234.5, ""]],
    }
    assert document["origin"] == {"obsid": "42"}
    assert document["read_at"] == NOW.isoformat() and document["truncated"] is False
    json.dumps(document)  # JSON-ready as it is
    empty = headers_document(stored, 2)
    assert empty["hdus"] == [] and empty["origin"] is None
    assert set(empty["values"].values()) == {None}  # type: ignore[attr-defined]
