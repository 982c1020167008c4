"""The pure helpers of benchmarks/bench_claims.py (no benchmark is run here)."""

from __future__ import annotations

import pytest
from benchmarks.bench_claims import ClaimerRun, markdown_table, percentile, summarize


def _run(claimed: list[int], wall: float, *, exhausted: bool = False) -> ClaimerRun:
    return ClaimerRun(
        claimed=claimed,
        renewed=len(claimed),
        completed=len(claimed) - 1,
        claim_s=[0.010, 0.020, 0.030],
        renew_s=[0.005],
        complete_s=[0.040, 0.060],
        wall_s=wall,
        exhausted=exhausted,
    )


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 99) == 3.0  # few calls: p99 is the slowest seen
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([], 50) == 0.0


@pytest.mark.parametrize("q", [0, -1, 101])
def test_percentile_rejects_out_of_range(q: float) -> None:
    with pytest.raises(ValueError, match="percentile"):
        percentile([1.0], q)


def test_summarize_rates_use_the_longest_window() -> None:
    setting = summarize("postgresql", 100, [_run([1, 2, 3, 4], 2.0), _run([5, 6], 1.0)])
    assert setting.claimers == 2
    assert setting.wall_s == 2.0
    assert setting.claims_per_s == 3.0  # 6 files over the 2 s window
    assert setting.renewals_per_s == 3.0
    assert setting.completes_per_s == 2.0  # 3 + 1 completed
    assert setting.claim_p50_ms == 20.0
    assert setting.claim_p99_ms == 30.0
    assert setting.complete_p50_ms == 40.0
    assert (setting.claimed, setting.distinct) == (6, 6)
    assert not setting.exhausted


def test_summarize_counts_a_file_claimed_twice() -> None:
    setting = summarize("postgresql", 100, [_run([1, 2], 1.0), _run([2, 3], 1.0, exhausted=True)])
    assert (setting.claimed, setting.distinct) == (4, 3)
    assert setting.exhausted
    table = markdown_table([setting])
    assert "DUPLICATES" in table
    assert "pool ran out" in table


def test_markdown_table_has_one_row_per_setting() -> None:
    settings = [summarize("sqlite", 1_000, [_run([1, 2], 1.0)])]
    lines = markdown_table(settings).splitlines()
    assert len(lines) == 3
    assert lines[2].startswith("| sqlite | 1 | 1,000 | 2 |")
    assert "DUPLICATES" not in lines[2]


def test_summarize_of_no_runs_is_zero() -> None:
    setting = summarize("postgresql", 100, [])
    assert setting.claims_per_s == 0.0
    assert setting.claim_p99_ms == 0.0
