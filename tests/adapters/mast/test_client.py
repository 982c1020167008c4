"""The questions skyhaul asks MAST, against a loopback MAST: names, cone and filtered searches,
products in batches of ``PRODUCTS_BATCH``, cloud paths in batches of ``PATH_LOOKUP_BATCH``,
and download URLs that keep a URI's ``?`` and ``&``."""

from __future__ import annotations

import aiohttp
import pytest
from tests.adapters.mast.fake_mast import FakeMast, observation, product
from tests.adapters.mast.fixtures import StartMast

from skyhaul.adapters.mast import (
    DEFAULT_MAST_URL,
    PATH_LOOKUP_BATCH,
    PRODUCTS_BATCH,
    Filter,
    cloud_url,
    mast_url,
)
from skyhaul.errors import ConfigError, UsageError


async def test_a_name_resolves_through_invoke(fake: FakeMast, mast: StartMast) -> None:
    fake.names["ngc 1300"] = (49.92, -19.41)
    client = await mast()
    where = await client.resolve("NGC 1300")
    assert (where.ra, where.dec, where.name) == (49.92, -19.41, "NGC 1300")
    assert fake.invokes[0]["service"] == "Mast.Name.Lookup"
    assert fake.invokes[0]["params"] == {"input": "NGC 1300", "format": "json"}


async def test_an_unknown_name_is_a_usage_error(fake: FakeMast, mast: StartMast) -> None:
    client = await mast()
    with pytest.raises(UsageError, match=r"^MAST could not resolve the name 'Nowhere-42'$"):
        await client.resolve("Nowhere-42")


async def test_a_cone_alone_uses_the_cone_service(fake: FakeMast, mast: StartMast) -> None:
    fake.observations = [observation(1, "near"), observation(2, "far", s_ra=120.0)]
    client = await mast()
    found = await client.cone(49.92, -19.41, 0.05)
    assert [o.obs_id for o in found] == ["near"]
    assert fake.invokes[0]["service"] == "Mast.Caom.Cone"
    assert fake.invokes[0]["params"] == {"ra": 49.92, "dec": -19.41, "radius": 0.05}


async def test_a_cone_with_filters_uses_filtered_position(fake: FakeMast, mast: StartMast) -> None:
    fake.observations = [
        observation(1, "l3"),
        observation(2, "l2", calib_level=2),
        observation(3, "hst", obs_collection="HST"),
    ]
    client = await mast()
    filters = [Filter("obs_collection", ("JWST",)), Filter("calib_level", ("2", "3"))]
    found = await client.cone(49.92, -19.41, 0.05, filters)
    assert sorted(o.obs_id for o in found) == ["l2", "l3"]
    request = fake.invokes[0]
    assert request["service"] == "Mast.Caom.Filtered.Position"
    assert request["params"] == {
        "columns": "*",
        "filters": [
            {"paramName": "obs_collection", "values": ["JWST"]},
            {"paramName": "calib_level", "values": ["2", "3"]},
        ],
        "position": "49.92, -19.41, 0.05",
    }


async def test_products_are_asked_for_in_batches(fake: FakeMast, mast: StartMast) -> None:
    count = PRODUCTS_BATCH * 2 + 1
    fake.products = [product(i, f"o{i}", f"f{i}.fits", 10) for i in range(count)]
    client = await mast()
    found = await client.products(str(i) for i in range(count))
    assert len(found) == count
    batches = [str(r["params"]["obsid"]).split(",") for r in fake.invokes]  # type: ignore[index]
    assert [len(b) for b in batches] == [PRODUCTS_BATCH, PRODUCTS_BATCH, 1]
    assert {r["service"] for r in fake.invokes} == {"Mast.Caom.Products"}


async def test_rows_that_identify_nothing_are_counted(fake: FakeMast, mast: StartMast) -> None:
    fake.products = [
        product(1, "o", "a.fits", 1),
        {**product(1, "o", "b.fits", 1), "dataURI": None},
    ]
    client = await mast()
    found = await client.products(["1"])
    assert [p.filename for p in found] == ["a.fits"]
    assert client.dropped == 1


async def test_cloud_paths_are_looked_up_in_batches(fake: FakeMast, mast: StartMast) -> None:
    uris = [f"mast:JWST/product/f{i}.fits" for i in range(PATH_LOOKUP_BATCH * 2 + 5)]
    fake.cloud = {u: f"/jwst/public/{u.rsplit('/', 1)[1]}" for u in uris[:-1]}
    client = await mast()
    keys = await client.cloud_paths([*uris, uris[0]])
    assert [len(batch) for batch in fake.lookups] == [PATH_LOOKUP_BATCH, PATH_LOOKUP_BATCH, 5]
    assert keys[uris[0]] == "jwst/public/f0.fits"
    assert keys[uris[-1]] is None
    assert cloud_url("jwst/public/f0.fits") == "s3://stpubdata/jwst/public/f0.fits"


async def test_a_download_url_keeps_the_uri_whole(fake: FakeMast, mast: StartMast) -> None:
    uri = "mast:HLSP/product/cutout.fits?ra=1&dec=2 x"
    fake.files[uri] = b"SIMPLE"
    client = await mast()
    url = client.download_url(uri)
    assert (
        url
        == client.url
        + "/api/v0.1/Download/file?uri=mast:HLSP/product/cutout.fits%3Fra%3D1%26dec%3D2%20x"
    )
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert await response.read() == b"SIMPLE"
    assert fake.downloads == [uri]


def test_the_mast_url_is_checked_once() -> None:
    assert mast_url(None, {}) == DEFAULT_MAST_URL
    assert mast_url(None, {"SKYHAUL_MAST_URL": "http://127.0.0.1:8080/"}) == "http://127.0.0.1:8080"
    assert mast_url("https://mast.example/portal", {"SKYHAUL_MAST_URL": "x"}) == (
        "https://mast.example/portal"
    )
    for bad in ("ftp://mast", "mast.stsci.edu", "http://", "http://h:99999", "http://h/?q=1"):
        with pytest.raises(ConfigError, match="is not an http\\(s\\) URL") as caught:
            mast_url(bad, {})
        assert caught.value.exit_code == 2
