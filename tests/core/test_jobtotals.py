"""A job's progress from its files' totals by state, and the speed over a window."""

from __future__ import annotations

import pytest

from skyhaul.core.jobtotals import FileTotals, SpeedWindow, bytes_done, progress_from_totals
from skyhaul.core.lifecycle import FileState

TOTALS = {
    FileState.DOWNLOADED: FileTotals(count=6, sized=6, bytes=600),
    FileState.IGNORED: FileTotals(count=1, sized=1, bytes=100),
    FileState.DOWNLOADING: FileTotals(count=2, sized=2, bytes=200, bytes_done=50),
    FileState.DISCOVERED: FileTotals(count=3, sized=3, bytes=300),
    FileState.FAILED: FileTotals(count=2, sized=2, bytes=200),
    FileState.ABANDONED: FileTotals(count=1, sized=1, bytes=100),
}


def test_progress_counts_finished_files_and_in_flight_bytes() -> None:
    progress = progress_from_totals(TOTALS, speed=25.04)
    assert (progress.files_done, progress.files_total) == (7, 15)
    assert (progress.files_retrying, progress.files_failed) == (2, 1)
    assert (progress.bytes_done, progress.bytes_total) == (750, 1500)
    assert progress.speed == 25.0
    assert progress.eta == pytest.approx(750 / 25.04, abs=0.05)


def test_an_unknown_size_leaves_the_total_and_eta_unknown() -> None:
    totals = {**TOTALS, FileState.DISCOVERED: FileTotals(count=3, sized=2, bytes=200)}
    progress = progress_from_totals(totals, speed=10.0)
    assert progress.bytes_total is None and progress.eta is None


def test_no_speed_no_eta() -> None:
    assert progress_from_totals(TOTALS, speed=0.0).eta is None
    assert bytes_done({}) == 0


def test_the_speed_is_the_growth_over_the_window() -> None:
    window = SpeedWindow(seconds=10.0)
    assert window.add(0.0, 0) == 0.0
    assert window.add(1.0, 100) == 100.0
    assert window.add(5.0, 500) == 100.0
    # Old samples leave the window: only the last 10 s count.
    window.add(11.0, 500)
    assert window.add(16.0, 500) == pytest.approx(0.0)
