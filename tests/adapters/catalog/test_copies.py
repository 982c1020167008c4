"""Copies and present-copy checks in the catalog, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.copies import Condition, CopyState, Damage, StoredCopy
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.jobs import JobKind
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileSpec, Selection

SHA = "ab" * 32
OTHER = "cd" * 32


def _downloaded(catalog: Catalog, now: datetime, count: int = 3, sha: str = SHA) -> list[int]:
    specs = [FileSpec(url=f"https://a.example/{i}", path=f"f{i}", size=10) for i in range(count)]
    catalog.register(specs, "/a", now=now)
    claimed = catalog.claim_batch("w", count, now=now, lease_seconds=60)
    for record in claimed:
        assert catalog.complete(record.id, "w", now=now, size=10, sha256=sha, validator=None)
    return [record.id for record in claimed]


def test_a_wanted_copy_is_made_once_its_file_is_downloaded(catalog: Catalog, now) -> None:
    spec = FileSpec(url="https://a.example/0", path="f0", size=10)
    catalog.register([spec], "/a", now=now)
    catalog.register([spec], "/b", now=now, copies=True)
    assert catalog.copies_to_make() == []  # its file is not downloaded yet
    [file_id] = _downloaded(catalog, now, count=1)
    [task] = catalog.copies_to_make()
    assert (task.dest_root, task.path, task.url) == ("/b", "f0", spec.url)
    assert task.source == StoredCopy(file_id, "/a", "f0", 10, SHA)
    assert catalog.copy_failed(task.copy_id, message="disk full", now=now)
    assert catalog.copies_of([file_id])[file_id][0].last_error == "disk full"
    assert catalog.copy_made(task.copy_id, size=10, sha256=SHA, now=now)
    assert not catalog.copy_made(task.copy_id, size=10, sha256=SHA, now=now)  # not WANTED
    [copy] = catalog.copies_of([file_id])[file_id]
    assert (copy.state, copy.sha256, copy.copied_at, copy.last_error) == (
        CopyState.PRESENT,
        SHA,
        now,
        None,
    )
    assert catalog.copies_to_make() == []
    assert catalog.stored_copies() == [StoredCopy(file_id, "/b", "f0", 10, SHA, copy.id)]


def test_copies_to_make_follow_the_selection_and_the_job(catalog: Catalog, now) -> None:
    ids = _downloaded(catalog, now)
    specs = [FileSpec(url=f"https://a.example/{i}", path=f"f{i}") for i in range(3)]
    catalog.register(specs[:1], "/b", now=now, copies=True)
    job = catalog.create_job(JobKind.GET, {}, now=now)
    catalog.register(specs[1:], "/c", now=now, copies=True, job_id=job)
    assert [t.source.file_id for t in catalog.copies_to_make()] == ids
    assert [t.source.file_id for t in catalog.copies_to_make(job_id=job)] == ids[1:]
    chosen = Selection(ids=(ids[0],))
    assert [t.dest_root for t in catalog.copies_to_make(selection=chosen)] == ["/b"]


def test_stored_files_are_read_in_pages(catalog: Catalog, now) -> None:
    ids = _downloaded(catalog, now, count=5)
    first = catalog.stored_files(limit=2)
    assert [s.file_id for s in first] == ids[:2]
    rest = catalog.stored_files(after=first[-1].file_id, limit=10)
    assert [s.file_id for s in rest] == ids[2:]
    assert rest[0] == StoredCopy(ids[2], "/a", "f2", 10, SHA)
    assert catalog.stored_files(Selection(states=frozenset({FileState.FAILED}))) == []


def test_a_damaged_file_goes_to_failed_due_now_and_is_fetched_again(
    catalog: Catalog, now, at
) -> None:
    ids = _downloaded(catalog, now)
    damage = [Damage(catalog.stored_files()[0], Condition.MISSING, "missing on disk")]
    assert catalog.verify_failed(damage, now=at(5)) == 1
    assert catalog.verify_failed(damage, now=at(5)) == 0  # not DOWNLOADED any more
    record = catalog.get(ids[0])
    assert record is not None
    assert (record.state, record.error_class, record.last_error) == (
        FileState.FAILED,
        ErrorClass.INTEGRITY,
        "missing on disk",
    )
    assert (record.attempts, record.sha256, record.downloaded_at) == (0, None, None)
    assert record.next_attempt_at == at(5)
    assert catalog.status_summary() == catalog.recount_totals()
    [claimed] = catalog.claim_batch("w", 5, now=at(5), lease_seconds=60)
    assert claimed.id == ids[0]


def test_a_check_of_older_bytes_changes_nothing(catalog: Catalog, now) -> None:
    [file_id] = _downloaded(catalog, now, count=1)
    stale = StoredCopy(file_id, "/a", "f0", 10, OTHER)  # checked before a new download
    assert catalog.verify_failed([Damage(stale, Condition.CHANGED, "changed")], now=now) == 0
    assert catalog.get(file_id).state is FileState.DOWNLOADED  # type: ignore[union-attr]


def test_a_damaged_copy_is_wanted_again(catalog: Catalog, now) -> None:
    [file_id] = _downloaded(catalog, now, count=1)
    catalog.register([FileSpec(url="https://a.example/0", path="f0")], "/b", now=now, copies=True)
    [task] = catalog.copies_to_make()
    catalog.copy_made(task.copy_id, size=10, sha256=SHA, now=now)
    [present] = catalog.stored_copies()
    assert catalog.verify_failed([Damage(present, Condition.CHANGED, "changed")], now=now) == 1
    [copy] = catalog.copies_of([file_id])[file_id]
    assert (copy.state, copy.last_error) == (CopyState.WANTED, "changed")
    assert catalog.get(file_id).state is FileState.DOWNLOADED  # type: ignore[union-attr]
    assert [t.copy_id for t in catalog.copies_to_make()] == [task.copy_id]


def test_copies_of_bytes_downloaded_again_differently_are_remade(catalog: Catalog, now) -> None:
    [file_id] = _downloaded(catalog, now, count=1)
    catalog.register([FileSpec(url="https://a.example/0", path="f0")], "/b", now=now, copies=True)
    [task] = catalog.copies_to_make()
    catalog.copy_made(task.copy_id, size=10, sha256=SHA, now=now)
    damage = [Damage(catalog.stored_files()[0], Condition.MISSING, "missing")]
    catalog.verify_failed(damage, now=now)
    [again] = catalog.claim_batch("w", 1, now=now, lease_seconds=60)
    catalog.complete(again.id, "w", now=now, size=10, sha256=OTHER, validator=None)
    [copy] = catalog.copies_of([file_id])[file_id]
    assert copy.state is CopyState.WANTED
    assert [t.source.sha256 for t in catalog.copies_to_make()] == [OTHER]
