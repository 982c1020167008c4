"""A backfill's progress board: days as files, day files as bytes, an ETA counted in chunks."""

from __future__ import annotations

from skyhaul.core.backfill import DayStatus
from skyhaul.core.dayprogress import DayBoard
from skyhaul.core.jobprogress import InFlightFile, JobProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_fresh_plan_knows_its_days_and_nothing_else() -> None:
    clock = FakeClock()
    board = DayBoard(clock)
    board.plan(days=5, days_to_run=3, chunks_per_day=24)
    clock.now += 2
    assert board.snapshot() == JobProgress(files_total=5, bytes_total=None)


def test_days_settle_as_files_and_day_files_count_as_bytes() -> None:
    clock = FakeClock()
    board = DayBoard(clock)
    board.plan(days=4, days_to_run=3, chunks_per_day=10)
    board.skip()  # an intact day file from an earlier run
    board.start_day("reach_2024-01-02.csv")
    clock.now += 10
    board.chunk(10, 5_000)
    board.end_day(DayStatus.DOWNLOADED, size=4_000)
    board.start_day("reach_2024-01-03.csv")
    clock.now += 5
    board.chunk(4, 1_000)
    board.end_day(DayStatus.FAILED)
    board.start_day("reach_2024-01-04.csv")
    board.end_day(DayStatus.SKIPPED_NO_DATA)
    clock.now += 5
    progress = board.snapshot()
    assert (progress.files_done, progress.files_total, progress.files_failed) == (3, 4, 1)
    assert (progress.bytes_done, progress.bytes_total) == (4_000, None)
    assert progress.speed == 200.0  # 4,000 bytes of day files in 20 s
    assert progress.eta == 0.0 and progress.in_flight == ()


def test_the_day_in_flight_shows_its_bytes_rate_and_source() -> None:
    clock = FakeClock()
    board = DayBoard(clock)
    board.plan(days=2, days_to_run=2, chunks_per_day=24)
    board.start_day("reach_2024-01-01.csv")
    clock.now += 4
    board.chunk(6, 3_000)
    progress = board.snapshot()
    assert progress.in_flight == (InFlightFile("reach_2024-01-01.csv", 3_000, None, 750.0, "http"),)
    # 6 chunks in 4 s; 42 of the two days' 48 chunks are left: 28 s.
    assert progress.eta == 28.0
    assert JobProgress.from_json(progress.as_json()) == progress


def test_the_eta_is_unknown_until_a_chunk_landed() -> None:
    clock = FakeClock()
    board = DayBoard(clock)
    board.plan(days=1, days_to_run=1, chunks_per_day=24)
    board.start_day("reach_2024-01-01.csv")
    clock.now += 3
    assert board.snapshot().eta is None
    board.chunk(1, 10)
    assert board.snapshot().eta == 69.0  # 1 chunk in 3 s, 23 left


def test_a_day_left_pending_is_neither_done_nor_failed_and_its_chunks_stay_to_do() -> None:
    clock = FakeClock()
    board = DayBoard(clock)
    board.plan(days=2, days_to_run=2, chunks_per_day=10)
    board.start_day("reach_2024-01-01.csv")
    clock.now += 2
    board.chunk(5, 500)
    board.end_day(DayStatus.PENDING)  # interrupted: the next run redoes it
    progress = board.snapshot()
    assert (progress.files_done, progress.files_failed, progress.in_flight) == (0, 0, ())
    assert progress.eta is None  # no chunk of a day that ended counts
