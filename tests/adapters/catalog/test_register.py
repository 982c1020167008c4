"""Registering files: bulk, idempotent by URL, changes detected, path conflicts refused."""

from __future__ import annotations

import dataclasses
import re
import threading
from dataclasses import replace

import pytest
from sqlalchemy import select
from tests.adapters.catalog.old_rows import insert_files

from skyhaul.adapters.catalog import Catalog, RegisterResult, open_catalog
from skyhaul.adapters.catalog.database import create_catalog_engine
from skyhaul.adapters.catalog.migrate import upgrade
from skyhaul.adapters.catalog.schema import files
from skyhaul.core.copies import CopyState
from skyhaul.core.jobs import JobKind
from skyhaul.core.lifecycle import FileEvent, FileState
from skyhaul.core.model import FileSpec, Selection, StateTotals
from skyhaul.errors import InvalidSpecError, UsageError


def _by_url(catalog: Catalog) -> dict[str, object]:
    return {record.url: record for record in catalog.list_files()}


def test_register_is_idempotent_by_url(catalog: Catalog, specs, now, at) -> None:
    wanted = specs(5)
    assert catalog.register(wanted, "/data", now=now) == RegisterResult(new=5, known=0)
    again = catalog.register(wanted, "/elsewhere", now=at(60))
    assert again == RegisterResult(new=0, known=5, changed=0)
    records = catalog.list_files()
    assert [r.url for r in records] == [s.url for s in wanted]
    assert {r.dest_root for r in records} == {"/data"}  # a known URL keeps its row
    assert {r.created_at for r in records} == {now}
    assert all(r.state is FileState.DISCOVERED and r.attempts == 0 for r in records)
    summary = catalog.status_summary()
    assert summary[FileState.DISCOVERED] == StateTotals(count=5, bytes=sum(range(1, 6)))


def test_duplicate_urls_in_one_call_count_once(catalog: Catalog, specs, now) -> None:
    wanted = specs(3)
    assert catalog.register([*wanted, wanted[0]], "/d", now=now).new == 3
    with pytest.raises(UsageError, match="listed twice"):
        catalog.register([wanted[1], replace(wanted[1], path="other")], "/d", now=now)


def test_changed_size_resets_what_was_learned(catalog: Catalog, specs, now, at) -> None:
    catalog.register(specs(3), "/d", now=now)
    [first, second] = catalog.claim_batch("w", 2, now=now, lease_seconds=60)
    catalog.add_segment(first.id, 0, 1)
    assert catalog.complete(first.id, "w", now=now, size=1, sha256="a" * 64, validator='"v1"')
    assert (
        catalog.fail(
            second.id,
            "w",
            now=now,
            error_class="server",
            message="503",
            next_attempt_at=at(30),
            permanent=True,
        )
        is FileState.ABANDONED
    )
    changed = [replace(s, size=s.size + 100) for s in specs(3)]
    result = catalog.register(changed, "/d", now=at(60))
    assert result == RegisterResult(new=0, known=0, changed=3)
    for record in catalog.list_files():
        assert record.state is FileState.DISCOVERED
        assert record.sha256 is None and record.validator is None
        assert record.bytes_done == 0 and record.attempts == 0
        assert record.downloaded_at is None and record.last_error is None
        assert record.updated_at == at(60)
    assert catalog.segments(first.id) == []
    assert catalog.status_summary() == catalog.recount_totals()
    assert catalog.status_summary()[FileState.DISCOVERED].bytes == 1 + 2 + 3 + 300


CD = "sha256:" + "cd" * 32
ZERO = "sha256:" + "00" * 32


def test_changed_checksum_is_detected_per_algorithm(catalog: Catalog, now) -> None:
    spec = FileSpec(url="https://a.example/x", path="x", checksum="sha256:" + "AB" * 32)
    catalog.register([spec], "/d", now=now)
    same = replace(spec, checksum="SHA256:" + "ab" * 32)
    other_algorithm = replace(spec, checksum="md5:" + "ff" * 16)
    assert catalog.register([same], "/d", now=now).known == 1
    assert catalog.register([other_algorithm], "/d", now=now).known == 1
    assert catalog.register([replace(spec, checksum=CD)], "/d", now=now).changed == 1
    [record] = catalog.list_files()
    assert record.checksum == CD


def test_ignored_file_changes_but_stays_ignored(catalog: Catalog, specs, now) -> None:
    catalog.register(specs(1), "/d", now=now)
    assert catalog.apply_event(FileEvent.IGNORE, Selection(), now=now) == 1
    [spec] = specs(1)
    assert catalog.register([replace(spec, size=999)], "/d", now=now).changed == 1
    [record] = catalog.list_files()
    assert record.state is FileState.IGNORED and record.size == 999
    assert catalog.status_summary() == catalog.recount_totals()


def test_file_in_flight_is_left_to_its_lease_holder(catalog: Catalog, specs, now) -> None:
    catalog.register(specs(1), "/d", now=now)
    [held] = catalog.claim_batch("w", 1, now=now, lease_seconds=60)
    [spec] = specs(1)
    assert catalog.register([replace(spec, size=999)], "/d", now=now).known == 1
    assert catalog.get(held.id) == held


def test_unknown_values_are_filled_in(catalog: Catalog, specs, now, at) -> None:
    catalog.register(specs(2, sized=False), "/d", now=now)
    assert catalog.expected_totals() == (2, None)
    richer = [replace(s, instrument="EUV", checksum=ZERO) for s in specs(2)]
    assert catalog.register(richer, "/d", now=at(1)) == RegisterResult(known=2)
    for record, spec in zip(catalog.list_files(), richer, strict=True):
        assert (record.size, record.instrument, record.checksum) == (spec.size, "EUV", ZERO)
    assert catalog.expected_totals() == (2, 1 + 2)
    assert catalog.status_summary() == catalog.recount_totals()


def test_path_taken_by_another_url_is_refused(catalog: Catalog, specs, now) -> None:
    [spec] = specs(1)
    catalog.register([spec], "/d", now=now)
    intruder = FileSpec(url="https://mirror.example/other", path=spec.path)
    with pytest.raises(UsageError) as caught:
        catalog.register([*specs(3, start=10), intruder], "/d", now=now)
    message = str(caught.value)
    assert spec.url in message and intruder.url in message and "\n" not in message
    assert catalog.count_files() == 1  # nothing of the failed call was kept
    # The same path under another root is another file.
    assert catalog.register([intruder], "/other-root", now=now).new == 1


def test_path_conflict_within_one_call(catalog: Catalog, now) -> None:
    a = FileSpec(url="https://a.example/1", path="same")
    b = FileSpec(url="https://b.example/2", path="same")
    with pytest.raises(UsageError, match=re.escape("already used by https://a.example/1")):
        catalog.register([a, b], "/d", now=now)


def test_new_and_known_files_are_linked_to_the_job(catalog: Catalog, specs, now) -> None:
    first = catalog.create_job(JobKind.GET, {}, now=now)
    second = catalog.create_job(JobKind.GET, {}, now=now)
    catalog.register(specs(3), "/d", now=now, job_id=first)
    catalog.register(specs(2, start=2), "/d", now=now, job_id=second)
    # File 2 was named by both jobs: each keeps it (a second get no longer takes it).
    assert catalog.expected_totals(job_id=first) == (3, 1 + 2 + 3)
    assert catalog.expected_totals(job_id=second) == (2, 3 + 4)
    assert catalog.job_file_ids(first) == [1, 2, 3]
    claimed = catalog.claim_batch("w", 10, now=now, lease_seconds=60, job_id=second)
    assert [r.url for r in claimed] == [s.url for s in specs(2, start=2)]


def test_mirrors_are_kept_in_order_and_replaced_when_given_again(catalog: Catalog, now) -> None:
    spec = FileSpec(url="s3://b/k.fits", path="k.fits", mirrors=("https://m1/k", "https://m2/k"))
    catalog.register([spec], "/d", now=now)
    assert catalog.list_files()[0].urls == ("s3://b/k.fits", "https://m1/k", "https://m2/k")
    again = dataclasses.replace(spec, mirrors=("https://m3/k",))
    assert catalog.register([again], "/d", now=now).known == 1  # not a change of the file
    assert catalog.list_files()[0].mirrors == ("https://m3/k",)


def test_large_registration_in_chunks(catalog: Catalog, specs, now) -> None:
    wanted = specs(5_000)
    big = catalog.create_job(JobKind.GET, {}, now=now)
    assert catalog.register(wanted, "/d", now=now, job_id=big).new == 5_000
    assert catalog.register(wanted, "/d", now=now).known == 5_000
    assert catalog.count_files() == 5_000
    assert catalog.expected_totals(job_id=big) == (5_000, sum(range(1, 5_001)))


def test_concurrent_registrations_of_the_same_files(db_url: str, specs, now) -> None:
    catalogs = [open_catalog(db_url) for _ in range(3)]
    job = catalogs[0].create_job(JobKind.GET, {}, now=now)
    results: list[RegisterResult] = []
    barrier = threading.Barrier(len(catalogs))

    def register(catalog: Catalog) -> None:
        barrier.wait()
        results.append(catalog.register(specs(400), "/d", now=now, job_id=job))

    threads = [threading.Thread(target=register, args=(c,)) for c in catalogs]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(r.new for r in results)[-1] >= 1
        assert sum(r.new for r in results) == 400
        assert all(r.new + r.known == 400 and r.changed == 0 for r in results)
        assert catalogs[0].count_files() == 400
        assert catalogs[0].status_summary() == catalogs[0].recount_totals()
        assert catalogs[0].expected_totals(job_id=job)[0] == 400
    finally:
        for catalog in catalogs:
            catalog.close()


# --- destinations (issue 13): part-file names, real paths, copies ------------------------


@pytest.mark.parametrize("path", ["x.skyhaul.part", "raw/X.Skyhaul.Part/a.fits"])
def test_a_name_only_a_part_file_may_have_is_refused(catalog: Catalog, now, path: str) -> None:
    ok = FileSpec(url="https://a.example/ok", path="ok.fits")
    reserved = FileSpec(url="https://a.example/bad", path=path)
    with pytest.raises(UsageError, match="reserved for skyhaul's part files") as caught:
        catalog.register([ok, reserved], "/d", now=now)
    assert "\n" not in str(caught.value)
    assert catalog.count_files() == 0


def test_a_part_file_name_of_old_is_a_plain_destination(catalog: Catalog, now) -> None:
    # x.part and x are two files: x's part file is x.skyhaul.part.
    both = [
        FileSpec(url="https://a.example/1", path="x.part"),
        FileSpec("https://a.example/2", "x"),
    ]
    assert catalog.register(both, "/d", now=now).new == 2
    # So are they when named in two runs, either way round.
    assert catalog.register([FileSpec("https://a.example/3", "y.part")], "/d", now=now).new == 1
    assert catalog.register([FileSpec("https://a.example/4", "y")], "/d", now=now).new == 1
    assert catalog.register([FileSpec("https://a.example/5", "z")], "/d", now=now).new == 1
    assert catalog.register([FileSpec("https://a.example/6", "z.part")], "/d", now=now).new == 1


def test_overlapping_roots_name_one_real_file_once(catalog: Catalog, now, tmp_path) -> None:
    first = FileSpec(url="https://a.example/1", path="sub/x")
    second = FileSpec(url="https://b.example/2", path="x")
    catalog.register([first], str(tmp_path / "nd"), now=now)
    with pytest.raises(UsageError) as caught:
        catalog.register([second], str(tmp_path / "nd" / "sub"), now=now)
    message = str(caught.value)
    assert first.url in message and second.url in message and "\n" not in message
    # Spelled differently, the same file still.
    third = FileSpec(url="https://c.example/3", path="sub/x")
    with pytest.raises(UsageError, match=re.escape(first.url)):
        catalog.register([third], str(tmp_path / "nd" / "." / "sub" / ".."), now=now)
    assert catalog.count_files() == 1


def test_a_file_where_another_run_needs_a_directory_is_refused(
    catalog: Catalog, now, tmp_path
) -> None:
    # One run names `a`, a later one `a/b` (or the other way round): one of the two could
    # never be written. Refused at registration, naming both, with nothing registered.
    root = tmp_path / "nd"
    catalog.register([FileSpec("https://a.example/1", "a")], str(root), now=now)
    catalog.register([FileSpec("https://a.example/2", "c/d/e")], str(root), now=now)
    for url, path, under, other in [
        ("https://b.example/3", "a/b", root, "https://a.example/1"),
        ("https://b.example/4", "a/b/c", root, "https://a.example/1"),
        ("https://b.example/5", "c", root, "https://a.example/2"),
        ("https://b.example/6", "c/d", root, "https://a.example/2"),
        ("https://b.example/7", "b", root / "a", "https://a.example/1"),  # another root
        ("https://b.example/8", "nd", tmp_path, "https://a.example/"),
    ]:
        ok = FileSpec(f"{url}/ok", f"ok{url[-1]}")
        with pytest.raises(InvalidSpecError) as caught:
            catalog.register([ok, FileSpec(url, path)], str(under), now=now)
        message = str(caught.value)
        assert url in message and other in message and "\n" not in message, message
        assert "cannot be both a file and a directory" in message
    assert catalog.count_files() == 2
    # Names beside them, sorting just before or after `a/` and `c/d/`, are other files.
    beside = ["a.b", "a-b", "a0", "ab", "c/d.e", "c/d0", "c/dd", "c/d/e.f", "c/d/f"]
    specs = [FileSpec(f"https://c.example/{i}", path) for i, path in enumerate(beside)]
    assert catalog.register(specs, str(root), now=now).new == len(beside)


def test_a_copy_where_another_file_needs_a_directory_is_refused(
    catalog: Catalog, now, tmp_path
) -> None:
    spec = FileSpec("https://a.example/x", "x")
    catalog.register([spec], str(tmp_path / "one"), now=now)
    catalog.register([FileSpec("https://a.example/y", "x/y")], str(tmp_path / "two"), now=now)
    with pytest.raises(InvalidSpecError, match=re.escape("https://a.example/y")):
        catalog.register([spec], str(tmp_path / "two"), now=now, copies=True)
    catalog.register([spec], str(tmp_path / "three"), now=now, copies=True)
    with pytest.raises(InvalidSpecError, match=re.escape("https://a.example/x")):
        catalog.register([FileSpec("https://a.example/z", "x/z")], str(tmp_path / "three"), now=now)


def test_a_directory_symlinked_inside_the_root_names_the_same_files(
    catalog: Catalog, now, tmp_path
) -> None:
    root = tmp_path / "nd"
    (root / "real").mkdir(parents=True)
    (root / "alias").symlink_to(root / "real")
    catalog.register([FileSpec(url="https://a.example/1", path="real/x")], str(root), now=now)
    with pytest.raises(UsageError, match=re.escape("https://a.example/1")):
        catalog.register([FileSpec(url="https://b.example/2", path="alias/x")], str(root), now=now)
    with pytest.raises(UsageError, match="already used"):
        two = [
            FileSpec("https://c.example/3", "real/y"),
            FileSpec("https://d.example/4", "alias/y"),
        ]
        catalog.register(two, str(root), now=now)


def test_a_known_url_named_under_another_root_is_wanted_there_as_a_copy(
    catalog: Catalog, now
) -> None:
    spec = FileSpec(url="https://a.example/x.fits", path="x.fits", size=3)
    catalog.register([spec], "/a", now=now)
    assert catalog.register([spec], "/b", now=now, copies=True) == RegisterResult(known=1, copies=1)
    assert catalog.register([spec], "/b", now=now, copies=True) == RegisterResult(known=1)
    assert catalog.register([spec], "/a", now=now, copies=True) == RegisterResult(known=1)
    [file] = catalog.list_files()
    [copy] = catalog.copies_of([file.id])[file.id]
    assert (copy.dest_root, copy.path, copy.state) == ("/b", "x.fits", CopyState.WANTED)
    # Without copies (discovery), another root changes nothing, as before.
    assert catalog.register([spec], "/c", now=now) == RegisterResult(known=1)
    assert len(catalog.copies_of([file.id])[file.id]) == 1


def test_a_copy_and_a_file_never_share_a_real_path(catalog: Catalog, now) -> None:
    spec = FileSpec(url="https://a.example/x.fits", path="x.fits")
    other = FileSpec(url="https://b.example/y.fits", path="y.fits")
    catalog.register([spec], "/a", now=now)
    catalog.register([other], "/b", now=now)
    with pytest.raises(UsageError, match=re.escape(other.url)):
        catalog.register([replace(spec, path="y.fits")], "/b", now=now, copies=True)
    catalog.register([spec], "/c", now=now, copies=True)
    with pytest.raises(UsageError, match=re.escape(spec.url)):
        catalog.register([FileSpec(url="https://c.example/z", path="x.fits")], "/c", now=now)
    with pytest.raises(UsageError, match=re.escape(spec.url)):
        catalog.register([replace(other, path="x.fits")], "/c", now=now, copies=True)
    assert catalog.count_files() == 2


def test_a_0005_catalog_gets_real_paths_and_keeps_rows_that_shared_one(db_url: str, now) -> None:
    engine = create_catalog_engine(db_url)
    try:
        upgrade(engine, "0005")
        rows = [
            {"url": "https://a.example/1", "dest_root": "/nd", "path": "sub/x"},
            {"url": "https://a.example/2", "dest_root": "/nd/sub", "path": "x"},  # the same
            {"url": "https://a.example/3", "dest_root": "/", "path": "y"},
        ]
        insert_files(engine, rows, now=now)
        with open_catalog(db_url) as catalog:
            catalog.rebuild_totals()
            with engine.connect() as connection:
                query = select(files.c.url, files.c.real_path).order_by(files.c.id)
                assert connection.execute(query).all() == [
                    ("https://a.example/1", "/nd/sub/x"),
                    ("https://a.example/2", None),
                    ("https://a.example/3", "/y"),
                ]
            with pytest.raises(UsageError, match=re.escape("https://a.example/1")):
                catalog.register([FileSpec("https://b.example/4", "x")], "/nd/sub", now=now)
    finally:
        engine.dispose()
