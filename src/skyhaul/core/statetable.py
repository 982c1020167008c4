"""A state machine as one table: ``(state, event) -> state``, and nothing else decides.

Rules:
- A pair that is not in the table raises ``IllegalTransitionError``; there are no
  implicit transitions and no defaults (as :mod:`skyhaul.core.lifecycle`).
- ``sources_of(event)`` gives the states an event is legal from, which is what a
  compare-and-set update in the catalog needs (``WHERE state IN (...)``).
- The observatory's machines (packages, operations, physical copies) are each one
  :class:`StateTable`, so their lookups and their errors read the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from skyhaul.errors import IllegalTransitionError

S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


class StateTable(Generic[S, E]):
    """The transitions of one kind of thing.

    Parameters
    ----------
    what : str
        What moves through the states, for messages ("package", "operation").
    transitions : mapping
        ``(state, event) -> next state``.
    """

    def __init__(self, what: str, transitions: Mapping[tuple[S, E], S]) -> None:
        self.what = what
        self.transitions: Mapping[tuple[S, E], S] = dict(transitions)

    def next(self, state: S, event: E) -> S:
        """Return the state ``event`` moves a thing in ``state`` to.

        Raises
        ------
        IllegalTransitionError
            When the table has no such transition.
        """
        try:
            return self.transitions[(state, event)]
        except KeyError:
            raise IllegalTransitionError(
                f"illegal {self.what} transition: {event.value} from {state.value}",
                state=state.value,
                event=event.value,
            ) from None

    def sources_of(self, event: E) -> frozenset[S]:
        """Return every state from which ``event`` is legal."""
        return frozenset(state for (state, ev) in self.transitions if ev is event)

    def targets_of(self, event: E) -> dict[S, frozenset[S]]:
        """Group the legal source states of ``event`` by the state it moves them to."""
        grouped: dict[S, set[S]] = {}
        for (state, ev), target in self.transitions.items():
            if ev is event:
                grouped.setdefault(target, set()).add(state)
        return {target: frozenset(states) for target, states in grouped.items()}
