"""Per-state totals stay equal to a recount of the files table, whatever happens."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from sqlalchemy import update

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.catalog.schema import state_totals
from skyhaul.core.lifecycle import FileEvent, FileState
from skyhaul.core.model import Completion, FileSpec, Selection, StateTotals
from skyhaul.core.units import MAX_SIZE
from skyhaul.errors import InvalidSpecError


def test_summary_has_every_state(catalog: Catalog) -> None:
    assert catalog.status_summary() == {state: StateTotals() for state in FileState}
    assert catalog.count_files() == 0
    assert catalog.expected_totals() == (0, 0)


def test_totals_match_a_recount_after_random_operations(catalog: Catalog, specs, at) -> None:
    rng = random.Random(20250301)
    clock = 0.0
    owners = ("w1", "w2")
    catalog.register(specs(40, sized=False) + specs(40, start=40), "/d", now=at(0))
    for step in range(250):
        clock += rng.uniform(0, 20)
        now = at(clock)
        owner = rng.choice(owners)
        held = [r for r in catalog.list_files() if r.lease_owner == owner]
        op = rng.randrange(11)
        if op == 0:
            start = rng.randrange(0, 100)
            batch = [
                replace(s, size=rng.choice([s.size, s.size * 3, None]))
                for s in specs(rng.randrange(1, 15), start=start)
            ]
            catalog.register(batch, "/d", now=now)
        elif op in (1, 2):
            catalog.claim_batch(owner, rng.randrange(1, 8), now=now, lease_seconds=30)
        elif op == 3 and held:
            items = [
                Completion(r.id, size=rng.randrange(0, 1000), sha256="0" * 64)
                for r in rng.sample(held, rng.randrange(1, len(held) + 1))
            ]
            catalog.complete_many(items, owner, now=now)
        elif op == 4 and held:
            catalog.fail(
                rng.choice(held).id,
                owner,
                now=now,
                error_class="server",
                message="500",
                next_attempt_at=at(clock + rng.uniform(0, 60)),
                permanent=rng.random() < 0.3,
            )
        elif op == 5 and held:
            catalog.release([r.id for r in held[:3]], owner, now=now)
        elif op == 6:
            catalog.recover_stale(now=now)
        elif op == 7 and held:
            catalog.renew_leases(owner, [r.id for r in held], now=now, lease_seconds=30)
        elif op == 8 and held:
            catalog.set_validator(
                held[0].id, owner, validator="v", size=rng.choice([None, rng.randrange(5000)])
            )
        elif op == 9:
            event = rng.choice(
                [FileEvent.RETRY, FileEvent.IGNORE, FileEvent.UNIGNORE, FileEvent.REMOTE_CHANGED]
            )
            ids = tuple(rng.sample(range(1, 81), 10))
            catalog.apply_event(event, Selection(ids=ids), now=now)
        elif op == 10:
            catalog.complete(
                rng.randrange(1, 81), owner, now=now, size=5, sha256="1", validator=None
            )
        assert catalog.status_summary() == catalog.recount_totals(), f"step {step}, op {op}"
    states = {r.state for r in catalog.list_files()}
    assert len(states) >= 5, states  # the walk visited most of the lifecycle


def test_rebuild_totals_repairs(catalog: Catalog, specs, now) -> None:
    catalog.register(specs(10), "/d", now=now)
    good = catalog.status_summary()
    with catalog._db.engine.begin() as connection:  # corrupt on purpose
        connection.execute(update(state_totals).values(count=state_totals.c.count + 7))
    assert catalog.status_summary() != good
    catalog.rebuild_totals()
    assert catalog.status_summary() == good == catalog.recount_totals()
    assert catalog.expected_totals() == (10, sum(range(1, 11)))


def test_the_catalogs_bytes_stay_countable(catalog: Catalog, now) -> None:
    # Each size is below 2**63, but their sum must be too: a totals row, a per-state sum
    # and a selection's sum are 64-bit integers on both backends.
    half = 2**62

    def spec(name: str, size: int | None) -> FileSpec:
        return FileSpec(url=f"https://archive.example/{name}", path=name, size=size)

    def refused(specs: list[FileSpec]) -> str:
        with pytest.raises(InvalidSpecError) as caught:
            catalog.register(specs, "/d", now=now)
        return caught.value.message

    message = refused([spec("a", half), spec("b", half)])
    assert message == (
        f"the catalog's files would hold {2**63} bytes in all, more than"
        f" {MAX_SIZE} (8 EiB - 1), the most it can count"
    )
    assert catalog.count_files() == 0
    catalog.register([spec("a", half), spec("b", half - 2), spec("c", None)], "/d", now=now)
    refused([spec("d", 2)])
    refused([spec("c", 2)])  # a size learned later counts as much
    catalog.register([spec("c", 1)], "/d", now=now)
    assert catalog.count_files() == 3
    first = Selection(url_prefix="https://archive.example/a")
    [held] = catalog.claim_batch("w", 1, now=now, lease_seconds=60, selection=first)
    with pytest.raises(InvalidSpecError, match="would hold"):  # a server's word as much
        catalog.set_validator(held.id, "w", validator=None, size=half + 1)
    assert catalog.get(held.id).size == half  # type: ignore[union-attr]
    expected = {state: StateTotals() for state in FileState}
    expected[FileState.DISCOVERED] = StateTotals(2, MAX_SIZE - half)
    expected[FileState.DOWNLOADING] = StateTotals(1, half)
    assert catalog.status_summary() == expected == catalog.recount_totals()
    assert catalog.expected_totals() == (3, MAX_SIZE)
    assert catalog.expected_totals(selection=Selection(url_prefix="https://")) == (3, MAX_SIZE)
