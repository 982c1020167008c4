"""Operator events applied in bulk: legal rows change, the rest are left alone."""

from __future__ import annotations

import pytest

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.lifecycle import FileEvent, FileState
from skyhaul.core.model import Selection
from skyhaul.errors import IllegalTransitionError


def _setup_states(catalog: Catalog, specs, now, at) -> dict[FileState, int]:
    """One file in each of DOWNLOADED, FAILED, ABANDONED, DOWNLOADING and DISCOVERED."""
    catalog.register(specs(5), "/d", now=now)
    done, failed, abandoned, busy = catalog.claim_batch("w", 4, now=now, lease_seconds=30)
    catalog.complete(done.id, "w", now=now, size=1, sha256="s", validator=None)
    for record, permanent in ((failed, False), (abandoned, True)):
        catalog.fail(
            record.id,
            "w",
            now=now,
            error_class="server",
            message="500",
            next_attempt_at=at(3600),
            permanent=permanent,
        )
    [idle] = [r for r in catalog.list_files() if r.state is FileState.DISCOVERED]
    return {
        FileState.DOWNLOADED: done.id,
        FileState.FAILED: failed.id,
        FileState.ABANDONED: abandoned.id,
        FileState.DOWNLOADING: busy.id,
        FileState.DISCOVERED: idle.id,
    }


def _states(catalog: Catalog, ids: dict[FileState, int]) -> dict[FileState, FileState]:
    found = {}
    for state, file_id in ids.items():
        record = catalog.get(file_id)
        assert record is not None
        found[state] = record.state
    return found


def test_retry_resets_failed_and_abandoned(catalog: Catalog, specs, now, at) -> None:
    ids = _setup_states(catalog, specs, now, at)
    assert catalog.apply_event(FileEvent.RETRY, Selection(), now=at(5)) == 2
    after = _states(catalog, ids)
    assert after[FileState.FAILED] is after[FileState.ABANDONED] is FileState.DISCOVERED
    assert after[FileState.DOWNLOADED] is FileState.DOWNLOADED
    assert after[FileState.DOWNLOADING] is FileState.DOWNLOADING
    retried = catalog.get(ids[FileState.FAILED])
    assert retried is not None
    assert retried.attempts == 0 and retried.next_attempt_at is None
    assert retried.updated_at == at(5)
    assert retried.last_error == "500"  # history is kept for the operator
    # Due at once now, although its retry time was an hour away.
    claimed = catalog.claim_batch("w", 10, now=at(6), lease_seconds=30)
    assert {r.id for r in claimed} == {
        ids[FileState.FAILED],
        ids[FileState.ABANDONED],
        ids[FileState.DISCOVERED],
    }
    assert catalog.status_summary() == catalog.recount_totals()


def test_ignore_and_unignore(catalog: Catalog, specs, now, at) -> None:
    ids = _setup_states(catalog, specs, now, at)
    assert catalog.apply_event(FileEvent.IGNORE, Selection(), now=at(1)) == 3
    after = _states(catalog, ids)
    for state in (FileState.FAILED, FileState.ABANDONED, FileState.DISCOVERED):
        assert after[state] is FileState.IGNORED
    assert catalog.claim_batch("w", 10, now=at(2), lease_seconds=30) == []
    only_one = Selection(ids=(ids[FileState.FAILED],))
    assert catalog.apply_event(FileEvent.UNIGNORE, only_one, now=at(3)) == 1
    unignored = catalog.get(ids[FileState.FAILED])
    assert unignored is not None and unignored.state is FileState.DISCOVERED
    assert unignored.attempts == 0
    assert catalog.status_summary()[FileState.IGNORED].count == 2
    assert catalog.status_summary() == catalog.recount_totals()


def test_events_outside_their_sources_change_nothing(catalog: Catalog, specs, now, at) -> None:
    ids = _setup_states(catalog, specs, now, at)
    before = catalog.list_files()
    downloaded = Selection(states=frozenset({FileState.DOWNLOADED}))
    assert catalog.apply_event(FileEvent.RETRY, downloaded, now=at(1)) == 0
    assert catalog.apply_event(FileEvent.UNIGNORE, Selection(), now=at(1)) == 0
    busy = Selection(ids=(ids[FileState.DOWNLOADING],))
    assert catalog.apply_event(FileEvent.IGNORE, busy, now=at(1)) == 0
    assert catalog.list_files() == before


@pytest.mark.parametrize(
    "event", [FileEvent.CLAIM, FileEvent.PROMOTE, FileEvent.FAIL_PERMANENT, FileEvent.RELEASE]
)
def test_engine_events_are_not_operator_events(catalog: Catalog, event: FileEvent, now) -> None:
    with pytest.raises(IllegalTransitionError, match="not an operator event"):
        catalog.apply_event(event, Selection(), now=now)


def test_remote_changed_forgets_the_bytes(catalog: Catalog, specs, now, at) -> None:
    ids = _setup_states(catalog, specs, now, at)
    catalog.add_segment(ids[FileState.FAILED], 0, 5)
    selection = Selection(ids=(ids[FileState.DOWNLOADED], ids[FileState.FAILED]))
    assert catalog.apply_event(FileEvent.REMOTE_CHANGED, selection, now=at(1)) == 2
    for file_id in selection.ids or ():
        record = catalog.get(file_id)
        assert record is not None
        assert record.state is FileState.DISCOVERED and record.sha256 is None
        assert record.downloaded_at is None and record.bytes_done == 0
    assert catalog.segments(ids[FileState.FAILED]) == []
    assert catalog.status_summary() == catalog.recount_totals()
