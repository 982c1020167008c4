"""The generation policy, row by row, as issue 18 states it (not read back from the table)."""

from __future__ import annotations

import itertools

import pytest

from skyhaul.core.generations import (
    GENERATION_POLICY,
    Generation,
    GenerationAction,
    HashRelation,
    Order,
    decide,
)

A = GenerationAction
HELD = Generation(file_hash="aa", count=10, mtime_ns=1_000)
#: Values of an incoming chunk relative to HELD, per relation.
COUNTS = {Order.MORE: 11, Order.SAME: 10, Order.LESS: 9}
MTIMES = {Order.MORE: 2_000, Order.SAME: 1_000, Order.LESS: 500}
HASHES = {HashRelation.SAME: "aa", HashRelation.DIFFERENT: "bb"}


def _expected(hash_: HashRelation, count: Order, mtime: Order) -> GenerationAction:
    """The issue's sentence: same file hash: accept; different hash with strictly more
    chunks: reset and adopt; different hash, same count, newer mtime: adopt; otherwise
    skip as stale; same hash with a different chunk count: corruption."""
    if hash_ is HashRelation.SAME:
        return A.ACCEPT if count is Order.SAME else A.CORRUPT
    if count is Order.MORE or (count is Order.SAME and mtime is Order.MORE):
        return A.ADOPT
    return A.SKIP


ROWS = list(itertools.product(HashRelation, Order, Order))


def test_the_table_has_every_combination_once() -> None:
    assert set(GENERATION_POLICY) == set(ROWS)
    assert len(GENERATION_POLICY) == 18


@pytest.mark.parametrize(("hash_", "count", "mtime"), ROWS)
def test_each_row_decides_as_the_issue_says(
    hash_: HashRelation, count: Order, mtime: Order
) -> None:
    incoming = Generation(HASHES[hash_], COUNTS[count], MTIMES[mtime])
    assert decide(HELD, incoming) is _expected(hash_, count, mtime)


def test_a_path_held_nothing_of_is_accepted() -> None:
    assert decide(None, Generation("zz", 1, 0)) is A.ACCEPT


def test_a_growing_rewrite_ends_on_its_last_generation_whatever_the_order() -> None:
    # OpenMSIStream issue #114: a file rewritten with a growing size while it streams.
    # Whatever order the generations' chunks arrive in, the receiver ends holding the
    # largest one, and never goes back to a smaller one.
    generations = [Generation(f"h{n}", n, n * 10) for n in range(1, 22)]
    for order in (generations, generations[::-1], generations[::2] + generations[1::2]):
        held: Generation | None = None
        for incoming in order:
            if decide(held, incoming) in (A.ACCEPT, A.ADOPT):
                held = incoming
        assert held == generations[-1]


def test_equal_size_rewrites_are_resolved_by_modification_time() -> None:
    old, new = Generation("h1", 4, 100), Generation("h2", 4, 200)
    assert decide(old, new) is A.ADOPT
    assert decide(new, old) is A.SKIP
