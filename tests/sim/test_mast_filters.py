"""Mashup filters: values, ranges, free text, separators; unreadable ones refused."""

from __future__ import annotations

from typing import Any

import pytest

from skyhaul.sim.mast.columns import OBSERVATION_COLUMNS
from skyhaul.sim.mast.filters import FilterError, compile_filters

COLUMNS = {c.name: c for c in OBSERVATION_COLUMNS}
ROW: dict[str, object] = {
    "obs_id": "IEPW01010",
    "filters": "CLEAR;F277W",
    "t_exptime": 1100.0,
    "calib_level": 3,
    "target_name": "NGC 628",
    "obs_title": None,
}


def _passes(*filters: dict[str, Any]) -> bool:
    return compile_filters(list(filters), COLUMNS)(ROW)


def test_values_match_ignoring_case_and_numbers_as_numbers() -> None:
    assert _passes({"paramName": "obs_id", "values": ["iepw01010", "X"]})
    assert not _passes({"paramName": "obs_id", "values": ["X"]})
    assert _passes({"paramName": "calib_level", "values": ["3.0"]})
    assert _passes({"paramName": "filters", "values": ["f277w"]})  # one item of "CLEAR;F277W"
    assert not _passes({"paramName": "obs_title", "values": ["x"]})  # null matches nothing


def test_ranges_include_both_ends_and_free_text_is_like() -> None:
    assert _passes({"paramName": "t_exptime", "values": [{"min": 1100, "max": 1100}]})
    assert not _passes({"paramName": "t_exptime", "values": [{"min": 0, "max": 1099.9}]})
    assert _passes({"paramName": "target_name", "values": [], "freeText": "ngc%"})
    assert _passes({"paramName": "target_name", "values": [], "freeText": "NGC _28"})
    assert not _passes({"paramName": "target_name", "values": [], "freeText": "NGC"})
    assert _passes({"paramName": "target_name", "values": ["M1"], "freeText": "%628"})  # OR


def test_every_filter_must_pass_and_an_empty_one_passes() -> None:
    calib = {"paramName": "calib_level", "values": [3]}
    assert _passes(calib, {"paramName": "obs_id", "values": []})
    assert not _passes(calib, {"paramName": "obs_id", "values": ["X"]})
    assert compile_filters(None, COLUMNS)(ROW) and compile_filters([], COLUMNS)(ROW)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"paramName": "x"}, "must be a list"),
        ([{"values": []}], "needs a paramName"),
        ([{"paramName": "nope", "values": []}], "unknown column in filter: nope"),
        ([{"paramName": "obs_id", "values": "A"}], "values must be a list"),
        ([{"paramName": "obs_id", "values": [[1]]}], "values must be strings"),
        ([{"paramName": "obs_id", "values": [{"min": 1, "max": 2}]}], "numeric column"),
        ([{"paramName": "t_min", "values": [{"min": "a", "max": 2}]}], "must be numbers"),
        ([{"paramName": "obs_id", "values": [], "freeText": 3}], "freeText must be a string"),
    ],
)
def test_unreadable_filters_are_refused(filters: object, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        compile_filters(filters, COLUMNS)
