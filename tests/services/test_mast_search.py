"""Searching MAST (services.mast_search) against a loopback MAST: one way to look, filters,
products counted per observation from one batched query, bad criteria refused up front."""

from __future__ import annotations

import pytest
from tests.adapters.mast.fake_mast import OBS_A, OBS_B, FakeMast, observation, stock
from tests.adapters.mast.fixtures import StartMast, fake, mast, sleeps

from skyhaul.errors import UsageError
from skyhaul.services.mast_search import (
    DEFAULT_RADIUS,
    SearchCriteria,
    parse_calib_levels,
    parse_radius,
    search,
)

__all__ = ["fake", "mast", "sleeps"]  # the fixtures


async def test_a_target_is_resolved_then_searched_around(fake: FakeMast, mast: StartMast) -> None:
    stock(fake)
    rows = await search(await mast(), SearchCriteria(target="NGC 1300"))
    assert [r.observation.obs_id for r in rows] == [OBS_A, OBS_B]
    assert fake.services() == ["Mast.Name.Lookup", "Mast.Caom.Cone", "Mast.Caom.Products"]
    assert fake.invokes[1]["params"] == {"ra": 49.92, "dec": -19.41, "radius": DEFAULT_RADIUS}
    first = rows[0].as_json()
    assert first["products"] == 3
    assert first["size"] == sum(len(b) for u, b in fake.files.items() if OBS_B not in u)
    assert (first["mission"], first["instrument"], first["target"]) == (
        "JWST",
        "NIRCAM/IMAGE",
        "NGC-1300",
    )
    assert first["start"] == "2022-08-09T06:00:00+00:00"


async def test_filters_narrow_and_products_are_counted_by_type(
    fake: FakeMast, mast: StartMast
) -> None:
    stock(fake)
    criteria = SearchCriteria(
        ra=49.92, dec=-19.41, mission="JWST", calib_levels=(3,), product_type="science"
    )
    rows = await search(await mast(), criteria)
    assert [(r.observation.obs_id, r.products) for r in rows] == [(OBS_A, 2)]
    request = fake.invokes[0]
    assert request["service"] == "Mast.Caom.Filtered.Position"
    assert request["params"]["filters"] == [  # type: ignore[index]
        {"paramName": "obs_collection", "values": ["JWST"]},
        {"paramName": "calib_level", "values": ["3"]},
    ]


async def test_an_obs_id_search_is_filtered(fake: FakeMast, mast: StartMast) -> None:
    stock(fake)
    rows = await search(await mast(), SearchCriteria(obs_id=OBS_B))
    assert [r.observation.obs_id for r in rows] == [OBS_B]
    assert fake.invokes[0]["service"] == "Mast.Caom.Filtered"


async def test_an_instrument_finds_its_modes(fake: FakeMast, mast: StartMast) -> None:
    stock(fake)
    fake.observations.append(observation(1003, "jw-miri", instrument_name="MIRI/IMAGE"))
    rows = await search(await mast(), SearchCriteria(ra=49.92, dec=-19.41, instrument="nircam"))
    assert [r.observation.obs_id for r in rows] == [OBS_A, OBS_B]


def test_an_instrument_means_every_mode_unless_exact() -> None:
    assert [f.as_json() for f in SearchCriteria(obs_id="x", instrument="NIRCAM").filters()] == [
        {"paramName": "obs_id", "values": ["x"]},
        {"paramName": "instrument_name", "values": [], "freeText": "NIRCAM%"},
    ]
    exact = SearchCriteria(obs_id="x", instrument="NIRCAM/IMAGE").filters()[1]
    assert exact.as_json() == {"paramName": "instrument_name", "values": ["NIRCAM/IMAGE"]}
    wild = SearchCriteria(obs_id="x", mission="J*").filters()[1]
    assert wild.as_json() == {"paramName": "obs_collection", "values": [], "freeText": "J%"}


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        (SearchCriteria(), "search by one of"),
        (SearchCriteria(target="M31", obs_id="x"), "search by one of"),
        (SearchCriteria(ra=10.0), "--ra and --dec go together"),
        (SearchCriteria(ra=400.0, dec=0.0), "--ra 400 is not from 0 to 360"),
        (SearchCriteria(ra=10.0, dec=-91.0), "--dec -91 is not from -90 to 90"),
        (SearchCriteria(target="  "), "the target is empty"),
        (SearchCriteria(obs_id="x", radius=0.0), "radius 0 must be more than 0"),
    ],
)
async def test_bad_criteria_ask_nothing(
    fake: FakeMast, mast: StartMast, criteria: SearchCriteria, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        await search(await mast(), criteria)
    assert fake.invokes == []


def test_radius_and_levels_are_read() -> None:
    assert parse_radius("3arcmin") == pytest.approx(0.05)
    assert parse_radius("36 arcsec") == pytest.approx(0.01)
    assert parse_radius("0.2deg") == parse_radius("0.2") == pytest.approx(0.2)
    for bad in ("3 parsecs", "", "-1", "200deg"):
        with pytest.raises(UsageError):
            parse_radius(bad)
    assert parse_calib_levels("2, 3,3") == (2, 3)
    for bad in ("two", "5", "2,,3"):
        with pytest.raises(UsageError, match="is not one of -1, 0, 1, 2, 3, 4"):
            parse_calib_levels(bad)
