"""Name resolution: SANTA's and Mast.Name.Lookup's answers for the dataset's targets."""

from __future__ import annotations

from skyhaul.sim.mast.dataset import build_dataset
from skyhaul.sim.mast.resolver import name_lookup_answer, resolve, santa_answer
from skyhaul.sim.mast.spec import MastSpec

DATASET = build_dataset(MastSpec())


def test_names_and_aliases_resolve_ignoring_case_and_spaces() -> None:
    target = resolve(DATASET, "ngc  628")
    assert target is not None and target.name == "NGC 628"
    assert resolve(DATASET, "M74") is target
    assert resolve(DATASET, "tic 261136679") is resolve(DATASET, "Pi Men")
    assert resolve(DATASET, "Vega") is None
    assert resolve(DATASET, "COSMOS") is None  # the bench target, only in the bench profile
    assert resolve(build_dataset(MastSpec(bench=True)), "cosmos") is not None


def test_santa_answers_one_entry_per_name_and_resolver() -> None:
    answer = santa_answer(DATASET, ["M16", "Vega", "WASP-39"], None, False)
    entries = answer["resolvedCoordinate"]
    assert isinstance(entries, list)
    assert [(e["searchString"], e["resolver"]) for e in entries] == [
        ("m16", "SIMBAD"),
        ("wasp-39", "SIMBAD"),
    ]
    assert (entries[0]["ra"], entries[0]["decl"]) == (274.7, -13.807)
    ned = santa_answer(DATASET, ["M16"], "ned", False)["resolvedCoordinate"]
    assert [e["resolver"] for e in ned] == ["NED"]
    every = santa_answer(DATASET, ["TIC 307210830"], None, True)["resolvedCoordinate"]
    assert [e["resolver"] for e in every] == ["SIMBAD", "NED", "TIC"]
    assert santa_answer(DATASET, ["M16"], "VIZIER", False) == {"resolvedCoordinate": []}


def test_name_lookup_answer() -> None:
    answer = name_lookup_answer(DATASET, "L 98-59")
    assert answer["status"] == ""
    (entry,) = answer["resolvedCoordinate"]
    assert entry["canonicalName"] == "L   98-59"
    assert name_lookup_answer(DATASET, "Vega")["resolvedCoordinate"] == []
