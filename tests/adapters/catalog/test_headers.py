"""FITS headers and archive records in the catalog: stored with registration and
completion, filtered on, read back; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect
from tests.adapters.catalog.statements import statements

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.catalog.database import create_catalog_engine
from skyhaul.adapters.catalog.migrate import alembic_config, current_version
from skyhaul.core.fitsheaders import FitsHeaders, HduHeader
from skyhaul.core.fitsquery import parse_condition
from skyhaul.core.lifecycle import FileEvent, FileState
from skyhaul.core.model import Completion, FileSpec, Selection

OBSERVED = datetime(2022, 6, 3, 12, 30, tzinfo=UTC)


def headers(**cards: object) -> FitsHeaders:
    primary = {"SIMPLE": True, "TELESCOP": "JWST", "INSTRUME": "NIRCam", **cards}
    return FitsHeaders(
        (
            HduHeader(0, "PRIMARY", tuple((k, v, "") for k, v in primary.items())),  # type: ignore[misc]
            HduHeader(1, "SCI", (("EXTNAME", "SCI", "extension name"), ("XPOSURE", 10.5, ""))),
        )
    )


def spec(i: int, **fields: Any) -> FileSpec:
    return FileSpec(url=f"https://mast.example/f{i}.fits", path=f"f{i}.fits", size=10, **fields)


def download(catalog: Catalog, now: datetime, found: dict[int, FitsHeaders | None]) -> set[int]:
    """Claim every due file and complete each with the headers ``found`` gives its number."""
    records = catalog.claim_batch("w", 100, now=now, lease_seconds=30)
    items = [
        Completion(
            file_id=r.id,
            size=10,
            sha256="ab" * 32,
            headers=found.get(int(r.path.removeprefix("f").removesuffix(".fits"))),
        )
        for r in records
    ]
    return catalog.complete_many(items, "w", now=now)


def test_registration_stores_origins_and_a_new_one_replaces_it(catalog: Catalog, now) -> None:
    first = json.dumps({"obsid": "1", "productFilename": "f0.fits"})
    catalog.register([spec(0, origin=first), spec(1)], "/d", now=now)
    a, b = catalog.list_files()
    stored = catalog.file_headers(a.id)
    assert stored is not None and stored.origin == first and stored.headers is None
    assert set(stored.values.values()) == {None}
    assert catalog.file_headers(b.id) is None
    second = json.dumps({"obsid": "2"})
    catalog.register([spec(0, origin=second)], "/d", now=now)
    assert catalog.file_headers(a.id).origin == second  # type: ignore[union-attr]
    catalog.register([spec(0)], "/d", now=now)  # without one: the stored one stays
    assert catalog.file_headers(a.id).origin == second  # type: ignore[union-attr]


def test_headers_are_stored_with_the_completion_beside_the_origin(catalog: Catalog, now) -> None:
    catalog.register([spec(0, origin='{"obsid": "9"}'), spec(1), spec(2)], "/d", now=now)
    promoted = download(catalog, now, {0: headers(**{"DATE-OBS": "2022-06-03T12:30"}), 1: None})
    assert len(promoted) == 3
    by_path = {r.path: r for r in catalog.list_files()}
    stored = catalog.file_headers(by_path["f0.fits"].id)
    assert stored is not None
    assert stored.origin == '{"obsid": "9"}'
    assert stored.values["INSTRUME"] == "NIRCAM" and stored.values["EXPTIME"] == 10.5
    assert stored.values["DATE-OBS"] == OBSERVED
    assert stored.headers == headers(**{"DATE-OBS": "2022-06-03T12:30"})
    assert stored.read_at == now
    assert catalog.file_headers(by_path["f1.fits"].id) is None
    # The headers filled the mission metadata the file did not know.
    record = by_path["f0.fits"]
    assert (record.instrument, record.obs_start) == ("NIRCAM", OBSERVED)


def test_headers_never_overwrite_known_mission_metadata(catalog: Catalog, now) -> None:
    known = datetime(2020, 1, 1, tzinfo=UTC)
    catalog.register(
        [spec(0, instrument="MIRI", obs_start=known), spec(1, obs_end=known)], "/d", now=now
    )
    found = headers(**{"DATE-OBS": "2022-06-03T12:30"})
    download(catalog, now, {0: found, 1: found})
    first, second = catalog.list_files()
    assert (first.instrument, first.obs_start) == ("MIRI", known)
    # An end without a start: the observation is not made an instant it was not.
    assert (second.instrument, second.obs_start, second.obs_end) == ("NIRCAM", None, known)


def test_a_lost_lease_stores_no_headers(catalog: Catalog, now) -> None:
    catalog.register([spec(0)], "/d", now=now)
    [record] = catalog.claim_batch("w", 1, now=now, lease_seconds=30)
    item = Completion(file_id=record.id, size=10, sha256="ab" * 32, headers=headers())
    assert catalog.complete_many([item], "intruder", now=now) == set()
    assert catalog.file_headers(record.id) is None


@pytest.fixture
def four(catalog: Catalog, now: datetime) -> Catalog:
    """Four downloaded files with headers, and one without."""
    catalog.register([spec(i) for i in range(5)], "/d", now=now)
    download(
        catalog,
        now,
        {
            0: headers(TARGNAME="NGC 3132", EXPTIME=100.0, **{"DATE-OBS": "2022-06-03T12:30"}),
            1: headers(TARGNAME="ngc 628", EXPTIME=20.0, **{"DATE-OBS": "2022-06-04T00:00"}),
            2: headers(INSTRUME="MIRI", TARGNAME="M 42", **{"DATE-OBS": "2022-06-03T23:59"}),
            3: headers(INSTRUME="NIRSPEC", TARGNAME="100%_done"),
        },
    )
    return catalog


def paths(catalog: Catalog, *conditions: str, **fields: Any) -> list[str]:
    selection = Selection(headers=tuple(parse_condition(c) for c in conditions), **fields)
    return [r.path for r in catalog.list_files(selection)]


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (["INSTRUME=nircam"], ["f0.fits", "f1.fits"]),
        (["INSTRUME!=NIRCAM"], ["f2.fits", "f3.fits"]),
        (["TARGNAME=NGC*"], ["f0.fits", "f1.fits"]),
        (["TARGNAME!=ngc*"], ["f2.fits", "f3.fits"]),
        (["TARGNAME=100%*"], ["f3.fits"]),  # % and _ are themselves, not wildcards
        (["TARGNAME=1_0*"], []),
        (["EXPTIME>=100"], ["f0.fits"]),
        (["EXPTIME<100"], ["f1.fits", "f2.fits", "f3.fits"]),  # XPOSURE 10.5 in f2, f3
        (["EXPTIME<15"], ["f2.fits", "f3.fits"]),
        (["DETECTOR!=NRCA1"], []),  # a file without the value matches no condition on it
        (["DATE-OBS=2022-06-03"], ["f0.fits", "f2.fits"]),
        (["DATE-OBS!=2022-06-03"], ["f1.fits"]),
        (["DATE-OBS<=2022-06-03"], ["f0.fits", "f2.fits"]),
        (["DATE-OBS>2022-06-03"], ["f1.fits"]),
        (["DATE-OBS<2022-06-03T23:00Z"], ["f0.fits"]),
        (["INSTRUME=NIRCAM", "EXPTIME>50"], ["f0.fits"]),
        (["TELESCOP=JWST"], ["f0.fits", "f1.fits", "f2.fits", "f3.fits"]),
    ],
)
def test_conditions_select_files(four: Catalog, conditions: list[str], expected: list[str]) -> None:
    assert paths(four, *conditions) == expected
    selection = Selection(headers=tuple(parse_condition(c) for c in conditions))
    assert four.count_files(selection) == len(expected)


def test_conditions_combine_with_the_rest_of_a_selection(four: Catalog, now: datetime) -> None:
    [first] = four.list_files(Selection(ids=(1,)))
    assert first.path == "f0.fits"
    four.apply_event(FileEvent.IGNORE, Selection(ids=(5,)), now=now)  # the one without
    assert paths(four, "INSTRUME=NIRCAM", states=frozenset({FileState.DOWNLOADED})) == [
        "f0.fits",
        "f1.fits",
    ]
    assert paths(four, "INSTRUME=NIRCAM", ids=(2, 3)) == ["f1.fits"]
    assert paths(four, "INSTRUME=NIRCAM", states=frozenset({FileState.IGNORED})) == []


def test_a_remote_change_forgets_the_headers_but_not_the_origin(catalog: Catalog, now) -> None:
    catalog.register([spec(0, origin='{"v": 1}'), spec(1)], "/d", now=now)
    download(catalog, now, {0: headers(), 1: headers()})
    first, second = catalog.list_files()
    catalog.register([replace(spec(0, origin='{"v": 2}'), size=11)], "/d", now=now)
    stored = catalog.file_headers(first.id)
    assert stored is not None and stored.headers is None and stored.origin == '{"v": 2}'
    assert set(stored.values.values()) == {None}
    assert paths(catalog, "INSTRUME=NIRCAM") == ["f1.fits"]
    catalog.apply_event(FileEvent.REMOTE_CHANGED, Selection(ids=(second.id,)), now=now)
    assert paths(catalog, "INSTRUME=NIRCAM") == []


def test_a_file_is_found_at_its_real_path(catalog: Catalog, now, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to(root)
    catalog.register([replace(spec(0), path="sub/f0.fits")], str(tmp_path / "link"), now=now)
    [record] = catalog.list_files()
    assert catalog.file_at(str(root.resolve() / "sub" / "f0.fits")) == record
    assert catalog.file_at(str(root / "sub" / "other.fits")) is None


def test_runs_without_fits_metadata_never_touch_the_headers_table(catalog: Catalog, now) -> None:
    with statements(catalog) as seen:
        catalog.register([spec(i) for i in range(50)], "/d", now=now)
        download(catalog, now, {})
        assert catalog.list_files(Selection(states=frozenset({FileState.DOWNLOADED})))
    assert seen and not [s for s in seen if "file_headers" in s]


def test_the_0007_migration_downgrades_and_upgrades(db_url: str, now: datetime) -> None:
    from alembic import command

    from skyhaul.adapters.catalog import open_catalog

    with open_catalog(db_url) as catalog:
        catalog.register([spec(0, origin="{}")], "/d", now=now)
    engine = create_catalog_engine(db_url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0006")
        with engine.connect() as connection:
            assert current_version(connection) == "0006"
            assert "file_headers" not in inspect(connection).get_table_names()
    finally:
        engine.dispose()
    with open_catalog(db_url) as catalog:  # and up again
        catalog.register([spec(1, origin='{"a": 1}')], "/d", now=now + timedelta(seconds=1))
        [_, second] = catalog.list_files()
        assert catalog.file_headers(second.id).origin == '{"a": 1}'  # type: ignore[union-attr]
