from __future__ import annotations

from enum import StrEnum

import pytest

from skyhaul.core.statetable import StateTable
from skyhaul.errors import IllegalTransitionError


class Light(StrEnum):
    RED = "RED"
    GREEN = "GREEN"
    AMBER = "AMBER"


class Signal(StrEnum):
    GO = "go"
    STOP = "stop"


TABLE = StateTable(
    "light",
    {
        (Light.RED, Signal.GO): Light.GREEN,
        (Light.GREEN, Signal.STOP): Light.AMBER,
        (Light.AMBER, Signal.STOP): Light.RED,
    },
)


def test_next_follows_the_table() -> None:
    assert TABLE.next(Light.RED, Signal.GO) is Light.GREEN


def test_a_pair_not_in_the_table_raises_with_what_and_where() -> None:
    with pytest.raises(
        IllegalTransitionError, match="illegal light transition: go from GREEN"
    ) as info:
        TABLE.next(Light.GREEN, Signal.GO)
    assert (info.value.state, info.value.event) == ("GREEN", "go")


def test_sources_and_targets_of_an_event() -> None:
    assert TABLE.sources_of(Signal.STOP) == {Light.GREEN, Light.AMBER}
    assert TABLE.targets_of(Signal.STOP) == {
        Light.AMBER: frozenset({Light.GREEN}),
        Light.RED: frozenset({Light.AMBER}),
    }
