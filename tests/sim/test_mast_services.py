"""``/api/v0/invoke``'s services as pure functions: searches, counts, paging, products."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from skyhaul.sim.mast.columns import OBSERVATION_COLUMNS, PRODUCT_COLUMNS
from skyhaul.sim.mast.dataset import build_dataset
from skyhaul.sim.mast.services import (
    MashupRequest,
    RequestError,
    ServiceError,
    invoke,
    parse_request,
)
from skyhaul.sim.mast.spec import MastSpec

DATASET = build_dataset(MastSpec())


def _ask(service: str, page: int = 1, pagesize: int = 50000, **params: object) -> dict[str, Any]:
    return invoke(DATASET, MashupRequest(service, params, page, pagesize))


def _obs_ids(answer: dict[str, Any]) -> list[str]:
    return [row["obs_id"] for row in answer["data"]]


def test_parse_request_reads_what_astroquery_sends() -> None:
    text = json.dumps(
        {
            "service": "Mast.Caom.Cone",
            "params": {"ra": 1, "dec": 2, "radius": 0.2},
            "format": "json",
            "pagesize": 10,
            "page": 3,
            "cacheBreaker": "x",
        }
    )
    assert parse_request(text) == MashupRequest(
        "Mast.Caom.Cone", {"ra": 1, "dec": 2, "radius": 0.2}, 3, 10
    )
    assert parse_request('{"service": "S"}') == MashupRequest("S", {}, 1, 50000)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "no request"),
        ("{not json", "not JSON"),
        ("[1]", "JSON object with a 'service'"),
        ('{"service": "S", "params": 3}', "'params' must be an object"),
        ('{"service": "S", "page": 0}', "'page' must be a whole number"),
        ('{"service": "S", "pagesize": "10"}', "'pagesize' must be a whole number"),
    ],
)
def test_unreadable_requests_are_refused(text: str | None, message: str) -> None:
    with pytest.raises(RequestError, match=message):
        parse_request(text)


def test_cone_finds_a_targets_observations_nearest_first_with_distance_in_arcsec() -> None:
    answer = _ask("Mast.Caom.Cone", ra=24.173946, dec=15.783662, radius=0.2)
    assert answer["status"] == "COMPLETE" and answer["msg"] == ""
    assert _obs_ids(answer) == ["jw02727-o002_t062_nircam_clear-f277w", "IEPW01010"]
    distances = [row["distance"] for row in answer["data"]]
    assert distances == sorted(distances)
    assert distances[0] == pytest.approx(math.hypot(4.2, 3.1), rel=1e-3)  # its offset, arcsec
    names = [f["name"] for f in answer["fields"]]
    assert names == [c.name for c in OBSERVATION_COLUMNS] + ["distance", "_selected_"]
    assert all(row["_selected_"] is None for row in answer["data"])


def test_cone_reaches_observations_whose_footprint_touches_the_circle() -> None:
    # The JWST pointing is 5.2" from the target; its footprint is 0.04 deg wide.
    jwst = DATASET.observation("jw02727-o002_t062_nircam_clear-f277w")
    near = _ask("Mast.Caom.Cone", ra=jwst.s_ra, dec=jwst.s_dec + 0.045, radius=0.01)
    assert "jw02727-o002_t062_nircam_clear-f277w" in _obs_ids(near)
    far = _ask("Mast.Caom.Cone", ra=jwst.s_ra, dec=jwst.s_dec + 0.06, radius=0.01)
    assert "jw02727-o002_t062_nircam_clear-f277w" not in _obs_ids(far)
    assert _ask("Mast.Caom.Cone", ra=0, dec=0, radius=0.5)["data"] == []


def test_paging_echoes_page_and_counts_pages() -> None:
    pages = [_ask("Mast.Caom.Filtered", page=n, pagesize=5, filters=[]) for n in (1, 2, 3, 4)]
    assert [p["paging"]["page"] for p in pages] == [1, 2, 3, 4]
    assert {p["paging"]["pagesFiltered"] for p in pages} == {3}
    assert [p["paging"]["rows"] for p in pages] == [5, 5, 2, 0]
    assert {p["paging"]["rowsFiltered"] for p in pages} == {12}
    assert [i for p in pages for i in _obs_ids(p)] == [o.obs_id for o in DATASET.observations]
    assert pages[0]["paging"]["pageSize"] == 5
    empty = _ask("Mast.Caom.Filtered", filters=[{"paramName": "obs_id", "values": ["x"]}])
    assert empty["paging"]["pagesFiltered"] == 0 and empty["data"] == []


def test_filters_on_values_ranges_and_free_text() -> None:
    def ids(*filters: dict[str, Any]) -> list[str]:
        return _obs_ids(_ask("Mast.Caom.Filtered", columns="*", filters=list(filters)))

    assert ids({"paramName": "obs_collection", "values": ["hst"]}) == [
        "IEPW01010", "JDBA02020", "OE9J03010", "IDXY04040",
    ]  # fmt: skip
    assert ids(
        {"paramName": "obs_collection", "values": ["HST"]},
        {"paramName": "t_exptime", "values": [{"min": 1000, "max": 1200}]},
    ) == ["IEPW01010"]
    assert ids({"paramName": "target_name", "values": [], "freeText": "m%"}) == [
        "jw02739-o001_t001_nircam_clear-f090w", "JDBA02020", "IDXY04040",
    ]  # fmt: skip
    assert ids({"paramName": "filters", "values": ["F277W"]}) == [  # one of "CLEAR;F277W"
        "jw02727-o002_t062_nircam_clear-f277w"
    ]
    assert ids({"paramName": "calib_level", "values": ["3"]}) == _obs_ids(
        _ask("Mast.Caom.Filtered", filters=[])
    )
    assert ids({"paramName": "obsid", "values": ["24139003"]}) == ["OE9J03010"]
    assert len(ids({"paramName": "obs_id", "values": ["IEPW01010"], "freeText": "tess%"})) == 5


def test_bad_filters_and_parameters_are_errors_of_the_service() -> None:
    with pytest.raises(ServiceError, match="unknown column in filter: nope"):
        _ask("Mast.Caom.Filtered", filters=[{"paramName": "nope", "values": ["1"]}])
    with pytest.raises(ServiceError, match="ranges need a numeric column"):
        _ask(
            "Mast.Caom.Filtered",
            filters=[{"paramName": "obs_id", "values": [{"min": 1, "max": 2}]}],
        )
    with pytest.raises(ServiceError, match="'ra' must be a number"):
        _ask("Mast.Caom.Cone", ra="north", dec=0, radius=1)
    with pytest.raises(ServiceError, match="'position' must be"):
        _ask("Mast.Caom.Filtered.Position", filters=[], position="1, 2")
    with pytest.raises(ServiceError, match=r"Unknown service: Mast\.Nope"):
        _ask("Mast.Nope")
    with pytest.raises(ServiceError, match="unknown column"):
        _ask("Mast.Caom.Filtered", columns="obs_id, nope", filters=[])


def test_counts_and_column_lists() -> None:
    count = _ask("Mast.Caom.Filtered", columns="COUNT_BIG(*)", filters=[
        {"paramName": "obs_collection", "values": ["TESS"]}
    ])  # fmt: skip
    assert count["fields"] == [{"name": "Column1", "type": "string"}]
    assert count["data"] == [{"Column1": 4}]
    near = _ask(
        "Mast.Caom.Filtered.Position",
        columns="COUNT_BIG(*)",
        filters=[],
        position="84.291188, -80.469138, 0.2",
    )
    assert near["data"] == [{"Column1": 2}]
    some = _ask("Mast.Caom.Filtered", columns="obs_id, target_name", filters=[])
    assert [f["name"] for f in some["fields"]] == ["obs_id", "target_name", "_selected_"]
    assert set(some["data"][0]) == {"obs_id", "target_name", "_selected_"}


def test_products_of_comma_separated_obsids_in_the_order_asked() -> None:
    hst, tess = DATASET.observation("IEPW01010"), DATASET.observations[-1]
    answer = _ask("Mast.Caom.Products", obsid=f"{tess.obsid},{hst.obsid}, 999,{tess.obsid}")
    uris = [row["dataURI"] for row in answer["data"]]
    expected = DATASET.products_of(tess.obsid) + DATASET.products_of(hst.obsid)
    assert uris == [p.data_uri for p in expected]
    assert [f["name"] for f in answer["fields"]][:-1] == [c.name for c in PRODUCT_COLUMNS]
    first = answer["data"][0]
    assert first["obsID"] == tess.obsid and first["size"] == expected[0].size
    assert first["productFilename"] == expected[0].filename
    assert answer["paging"]["rowsFiltered"] == len(expected)
    with pytest.raises(ServiceError, match="'obsid'"):
        _ask("Mast.Caom.Products", obsid=["1"])


def test_name_lookup_resolves_the_datasets_targets_only() -> None:
    answer = _ask("Mast.Name.Lookup", input="wasp-39", format="json")
    (entry,) = answer["resolvedCoordinate"]
    assert (entry["ra"], entry["decl"]) == (217.326708, -3.444497)
    assert entry["searchString"] == "wasp-39" and answer["status"] == ""
    assert _ask("Mast.Name.Lookup", input="Betelgeuse")["resolvedCoordinate"] == []
