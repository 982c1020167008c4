"""The progress board: counts, sliding-window speed, ETA and the active-file list."""

from __future__ import annotations

import pytest

from skyhaul.core.progress import BUCKET_SECONDS, FileProgress, ProgressBoard, merge_snapshots

MB = 1_000_000


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_empty_board(clock: FakeClock) -> None:
    snap = ProgressBoard(clock).snapshot()
    assert (snap.files_total, snap.files_done, snap.files_failed) == (0, 0, 0)
    assert (snap.bytes_total, snap.bytes_done, snap.speed) == (0, 0, 0.0)
    assert snap.eta == 0.0
    assert snap.active == ()
    assert snap.elapsed == 0.0


@pytest.mark.parametrize(
    ("expected", "files", "bytes_total"),
    [
        ([(3, 300)], 3, 300),
        ([(3, 300), (2, 50)], 5, 350),
        ([(3, 300), (2, None)], 5, None),
        ([(2, None), (3, 300)], 5, None),  # unknown stays unknown
    ],
)
def test_add_expected(
    clock: FakeClock, expected: list[tuple[int, int | None]], files: int, bytes_total: int | None
) -> None:
    board = ProgressBoard(clock)
    for n, b in expected:
        board.add_expected(n, b)
    snap = board.snapshot()
    assert snap.files_total == files
    assert snap.bytes_total == bytes_total
    if bytes_total is None:
        assert snap.eta is None


def test_counts_bytes_and_outcomes(clock: FakeClock) -> None:
    board = ProgressBoard(clock)
    board.add_expected(3, 300)
    board.start_file("a", "a.fits", 100)
    board.start_file("b", "b.fits", 100)
    board.advance("a", 60)
    board.advance("a", 40)
    board.advance("b", 30)
    board.finish_file("a", ok=True)
    board.finish_file("b", ok=False)
    snap = board.snapshot()
    assert (snap.files_done, snap.files_failed) == (1, 1)
    assert snap.bytes_done == 130
    assert snap.active == ()


def test_resumed_file_starts_with_its_bytes_done(clock: FakeClock) -> None:
    board = ProgressBoard(clock)
    board.start_file("a", "a.fits", 100, done=70)
    board.advance("a", 10)
    snap = board.snapshot()
    assert snap.bytes_done == 80
    assert snap.active == (FileProgress("a", "a.fits", 100, 80, snap.active[0].speed),)


def test_restart_file_gives_its_bytes_back(clock: FakeClock) -> None:
    board = ProgressBoard(clock)
    board.start_file("a", "a.fits", 100, done=50)
    board.start_file("b", "b.fits", 100)
    board.advance("a", 20)
    board.advance("b", 5)
    board.restart_file("a")
    snap = board.snapshot()
    assert snap.bytes_done == 5
    assert {f.key: f.done for f in snap.active} == {"a": 0, "b": 5}
    board.advance("a", 30)
    assert board.snapshot().bytes_done == 35


def test_a_failed_file_started_again_is_not_counted_twice(clock: FakeClock) -> None:
    board = ProgressBoard(clock)
    board.add_expected(1, 100)
    board.start_file("a", "a.fits", 100)
    board.advance("a", 40)
    board.finish_file("a", ok=False)
    snap = board.snapshot()
    assert (snap.files_failed, snap.bytes_done) == (1, 40)
    # retried: the .part kept its 40 bytes
    board.start_file("a", "a.fits", 100, done=40)
    snap = board.snapshot()
    assert (snap.files_failed, snap.bytes_done) == (0, 40)
    board.advance("a", 60)
    board.finish_file("a", ok=True)
    snap = board.snapshot()
    assert (snap.files_done, snap.files_failed, snap.bytes_done) == (1, 0, 100)


def test_finishing_twice_counts_once(clock: FakeClock) -> None:
    board = ProgressBoard(clock)
    board.start_file("a", "a", 1)
    board.finish_file("a", ok=True)
    board.finish_file("a", ok=True)
    assert board.snapshot().files_done == 1
    board.finish_file("a", ok=False)
    snap = board.snapshot()
    assert (snap.files_done, snap.files_failed) == (0, 1)


def test_advancing_an_unknown_file_is_an_error(clock: FakeClock) -> None:
    with pytest.raises(KeyError):
        ProgressBoard(clock).advance("nope", 1)


def test_speed_is_bytes_over_the_sliding_window(clock: FakeClock) -> None:
    board = ProgressBoard(clock, window=5.0)
    board.add_expected(1, 200 * MB)
    board.start_file("a", "a.fits", 200 * MB)
    for _ in range(100):  # 10 s at 1 MB per 0.1 s
        clock.tick(0.1)
        board.advance("a", MB)
    snap = board.snapshot()
    assert snap.speed == pytest.approx(10 * MB, rel=0.06)
    assert snap.active[0].speed == pytest.approx(10 * MB, rel=0.06)
    assert snap.eta == pytest.approx(100 * MB / snap.speed)
    assert snap.elapsed == pytest.approx(10.0)
    # the rate halves: after a full window the speed follows
    for _ in range(60):
        clock.tick(0.1)
        board.advance("a", MB // 2)
    assert board.snapshot().speed == pytest.approx(5 * MB, rel=0.06)
    # silence: after the window the speed is zero and the ETA unknown
    clock.tick(6.0)
    snap = board.snapshot()
    assert snap.speed == 0.0
    assert snap.eta is None


def test_speed_is_not_underestimated_in_the_first_seconds(clock: FakeClock) -> None:
    board = ProgressBoard(clock, window=5.0)
    board.start_file("a", "a.fits", None)
    for _ in range(10):
        clock.tick(0.1)
        board.advance("a", MB)
    assert board.snapshot().speed == pytest.approx(10 * MB, rel=0.05)


def test_eta_is_zero_when_everything_is_done(clock: FakeClock) -> None:
    board = ProgressBoard(clock)
    board.add_expected(1, 10)
    board.start_file("a", "a", 10)
    board.advance("a", 10)
    board.finish_file("a", ok=True)
    clock.tick(60)
    assert board.snapshot().eta == 0.0


def test_active_lists_most_recently_active_first_up_to_max_active(clock: FakeClock) -> None:
    board = ProgressBoard(clock, max_active=3)
    for key in "abcde":
        board.start_file(key, f"{key}.fits", 10)
        clock.tick(1.0)
    board.advance("b", 1)
    clock.tick(1.0)
    board.advance("a", 1)
    assert [f.key for f in board.snapshot().active] == ["a", "b", "e"]
    board.finish_file("a", ok=True)
    assert [f.key for f in board.snapshot().active] == ["b", "e", "d"]


def test_memory_stays_bounded_however_many_chunks(clock: FakeClock) -> None:
    board = ProgressBoard(clock, window=5.0)
    board.start_file("a", "a.fits", None)
    for _ in range(100_000):  # 1,000 s of 64 KiB chunks every 10 ms
        clock.tick(0.01)
        board.advance("a", 65536)
    buckets = int(5.0 / BUCKET_SECONDS) + 1
    # white-box: the throughput meters keep one entry per bucket, not per chunk
    assert len(board._meter._buckets) <= buckets
    assert len(board._active["a"].meter._buckets) <= buckets
    assert board.snapshot().speed == pytest.approx(65536 / 0.01, rel=0.05)


def test_window_must_be_positive(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        ProgressBoard(clock, window=0)


def test_merged_snapshots_add_up_with_totals_from_the_drawing_board(clock: FakeClock) -> None:
    own = ProgressBoard(clock)
    own.add_expected(4, 400)
    own.start_file("1", "a", 100)
    own.advance("1", 100)
    own.finish_file("1", True)
    other = ProgressBoard(clock)
    other.add_expected(4, 400)  # a child sees the whole selection: ignored
    other.start_file("2", "b", 100)
    other.advance("2", 100)
    other.finish_file("2", True)
    other.start_file("3", "c", 100)
    other.advance("3", 50)
    other.finish_file("4", False)
    clock.now += 1.0
    merged = merge_snapshots(own.snapshot(), [other.snapshot()])
    assert (merged.files_total, merged.bytes_total) == (4, 400)
    assert (merged.files_done, merged.files_failed, merged.bytes_done) == (2, 1, 250)
    assert merged.speed == pytest.approx(own.snapshot().speed + other.snapshot().speed)
    assert merged.eta == pytest.approx(150 / merged.speed)
    assert [f.key for f in merged.active] == ["3"]


def test_a_file_waiting_for_its_retry_is_retrying_not_failed(clock: FakeClock) -> None:
    board = ProgressBoard(clock)
    board.add_expected(2, 200)
    board.start_file("a", "a.fits", 100)
    board.advance("a", 40)
    board.retry_file("a")
    snap = board.snapshot()
    assert (snap.files_done, snap.files_retrying, snap.files_failed) == (0, 1, 0)
    assert (snap.bytes_done, snap.active) == (40, ())
    board.start_file("a", "a.fits", 100, done=40)  # its next attempt
    snap = board.snapshot()
    assert (snap.files_retrying, snap.files_failed) == (0, 0)
    board.retry_file("a")
    board.finish_file("a", ok=False)  # the run ends before its retry: failed for good
    snap = board.snapshot()
    assert (snap.files_retrying, snap.files_failed) == (0, 1)


def test_merged_snapshots_add_retrying_files(clock: FakeClock) -> None:
    own, other = ProgressBoard(clock), ProgressBoard(clock)
    for board, key in ((own, "1"), (other, "2"), (other, "3")):
        board.start_file(key, key, 10)
        board.retry_file(key)
    other.finish_file("3", ok=False)
    merged = merge_snapshots(own.snapshot(), [other.snapshot()])
    assert (merged.files_retrying, merged.files_failed) == (2, 1)
