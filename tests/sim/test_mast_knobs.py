"""The MAST knobs, and the state that decides EXECUTING and ERROR answers with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyhaul.errors import ConfigError
from skyhaul.sim.mast.knobs import MastKnobs
from skyhaul.sim.mast.spec import MastSpec
from skyhaul.sim.mast.state import MastState


def test_knobs_are_off_by_default_and_read_as_given() -> None:
    assert MastKnobs().to_json() == {
        "executing_polls": 0,
        "error_services": [],
        "error_next": 0,
        "etag": True,
        "last_modified": True,
        "ranges": True,
    }
    knobs = MastKnobs.from_mapping(
        {"executing-polls": "2", "--mast-error-service": ["Mast.Caom.Cone"], "ranges": "off"}
    )
    assert (knobs.executing_polls, knobs.error_services, knobs.ranges) == (
        2,
        frozenset({"Mast.Caom.Cone"}),
        False,
    )
    merged = MastKnobs.from_mapping({"error_services": "A, B"}, base=knobs)
    assert merged.error_services == {"A", "B"} and merged.executing_polls == 2
    assert merged.fails("A") and not merged.fails("C")
    assert MastKnobs(error_services=frozenset({"*"})).fails("anything")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"executing_polls": -1}, "executing_polls"),
        ({"etag": "maybe"}, "etag"),
        ({"error_services": 3}, "expected service names"),
        ({"colour": 1}, "unknown MAST knob 'colour'"),
    ],
)
def test_bad_knobs_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MastKnobs.from_mapping(values)


def test_state_keeps_each_request_executing_for_k_polls(tmp_path: Path) -> None:
    state = MastState.create(MastSpec(), tmp_path, MastKnobs(executing_polls=2))
    assert [state.status_for("a", "S") for _ in range(3)] == ["EXECUTING", "EXECUTING", "COMPLETE"]
    assert state.status_for("b", "S") == "EXECUTING"  # counted per request text
    assert [state.status_for("a", "S") for _ in range(3)] == ["EXECUTING", "EXECUTING", "COMPLETE"]
    state.configure(MastKnobs())
    assert state.status_for("b", "S") == "COMPLETE"


def test_state_answers_errors_first(tmp_path: Path) -> None:
    knobs = MastKnobs(error_next=2, error_services=frozenset({"Bad"}), executing_polls=1)
    state = MastState.create(MastSpec(), tmp_path, knobs)
    assert [state.status_for("x", "Good") for _ in range(4)] == [
        "ERROR",
        "ERROR",
        "EXECUTING",
        "COMPLETE",
    ]
    assert state.knobs.error_next == 0  # counted down
    assert state.status_for("y", "Bad") == "ERROR"
