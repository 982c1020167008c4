"""Engine processes of a run: how many, how they share the limits, one merged summary."""

from __future__ import annotations

import pytest

from skyhaul.core.model import Failure, RunSummary, TransferOptions
from skyhaul.core.processes import (
    FILES_PER_PROCESS,
    SMALL_MEAN_SIZE,
    merge_summaries,
    plan_processes,
    share,
    share_options,
)

KIB = 1024


def auto(files: int = 2000, size: int = 64 * KIB, **overrides: int) -> int:
    knobs = {"concurrency": 16, "max_per_host": 16, "cores": 2} | overrides
    return plan_processes(None, files=files, nbytes=files * size, **knobs).count


def test_many_small_files_get_one_process_per_core() -> None:
    assert auto() == 2
    assert auto(cores=8) == 4  # at most MOST_PROCESSES


@pytest.mark.parametrize(
    ("case", "count"),
    [
        ({"files": 2 * FILES_PER_PROCESS - 1}, 1),  # too few files to repay a fork
        ({"size": SMALL_MEAN_SIZE + 1}, 1),  # large files: the wire and hashing bind
        ({"cores": 1}, 1),
        ({"concurrency": 7}, 1),  # 3 files in flight each would starve them
        ({"max_per_host": 4}, 1),  # 2 connections per host each: too few to share
        ({"files": 3 * FILES_PER_PROCESS, "cores": 8}, 3),  # at least 500 files each
    ],
)
def test_automatic_choice_keeps_one_process_unless_it_pays(
    case: dict[str, int], count: int
) -> None:
    assert auto(**case) == count


def test_unknown_sizes_keep_one_process() -> None:
    plan = plan_processes(None, files=5000, nbytes=None, concurrency=16, max_per_host=16, cores=4)
    assert plan.count == 1
    assert "unknown" in plan.reason


def test_an_explicit_count_is_honoured_up_to_the_limits_it_shares() -> None:
    knobs = {"files": 3, "nbytes": 3, "cores": 1}
    assert plan_processes(3, concurrency=16, max_per_host=16, **knobs).count == 3
    capped = plan_processes(8, concurrency=4, max_per_host=16, **knobs)
    assert capped.count == 4
    assert "8 asked" in capped.reason
    assert plan_processes(8, concurrency=16, max_per_host=2, **knobs).count == 2


@pytest.mark.parametrize(("total", "parts"), [(16, 2), (17, 3), (5, 4), (1, 1)])
def test_shares_add_up_and_differ_by_one_at_most(total: int, parts: int) -> None:
    shares = [share(total, parts, i) for i in range(parts)]
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1


def test_every_share_is_at_least_one() -> None:
    assert [share(1, 3, i) for i in range(3)] == [1, 1, 1]


def test_a_share_outside_the_parts_is_an_error() -> None:
    with pytest.raises(ValueError, match="no share 2 of 2"):
        share(8, 2, 2)


def test_options_split_concurrency_and_per_host_connections() -> None:
    options = TransferOptions(concurrency=16, max_per_host=5, max_attempts=3)
    parts = [share_options(options, 2, i) for i in range(2)]
    assert [p.concurrency for p in parts] == [8, 8]
    assert [p.max_per_host for p in parts] == [3, 2]
    assert all(p.max_attempts == 3 for p in parts)
    assert share_options(options, 1, 0) is options


def failure(file_id: int, *, abandoned: bool = False) -> Failure:
    return Failure(f"http://a/{file_id}", "server", "503", abandoned=abandoned, file_id=file_id)


def test_merged_summary_adds_counts_and_keeps_the_longest_time() -> None:
    parts = [
        RunSummary(downloaded=3, bytes=300, seconds=1.5),
        RunSummary(downloaded=2, bytes=200, seconds=2.0, interrupted=True),
    ]
    merged = merge_summaries(parts)
    assert (merged.downloaded, merged.bytes, merged.seconds) == (5, 500, 2.0)
    assert merged.interrupted


def test_merged_summary_lists_each_failed_file_once() -> None:
    # File 1 failed in one process, then was abandoned by the other: abandoned is its
    # outcome. File 2 failed, then another process downloaded it: not a failure.
    parts = [
        RunSummary(failures=[failure(1), failure(2)]),
        RunSummary(failures=[failure(1, abandoned=True), failure(3)]),
    ]
    merged = merge_summaries(parts, downloaded={2})
    assert sorted((f.file_id, f.abandoned) for f in merged.failures) == [(1, True), (3, False)]
    assert (merged.failed, merged.abandoned) == (1, 1)


def test_merged_summary_adds_what_was_repaired() -> None:
    parts = [
        RunSummary(retries={"server": 2, "integrity": 1}, integrity_refetched=1),
        RunSummary(retries={"server": 1, "connect": 3}, integrity_refetched=2, sources_switched=1),
    ]
    merged = merge_summaries(parts)
    assert merged.retries == {"server": 3, "integrity": 1, "connect": 3}
    assert (merged.integrity_refetched, merged.sources_switched) == (3, 1)
