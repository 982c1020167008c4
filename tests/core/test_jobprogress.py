"""A job's published progress: exact JSON round trip, from a board's snapshot, one line."""

from __future__ import annotations

import json

import pytest

from skyhaul.core.jobprogress import InFlightFile, JobProgress, job_progress, progress_line
from skyhaul.core.progress import ProgressBoard

MiB = 2**20
GiB = 2**30


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def sixteen_in_flight() -> JobProgress:
    rows = tuple(
        InFlightFile(
            name=f"solo/L2/2024/03/01/solo_L2_eui-fsi174-image_20240301T{i:02d}0000_V01.fits",
            bytes_done=i * 1_234_567,
            bytes_total=None if i % 5 == 0 else 50_000_000 + i,
            speed=1234.5 * i,
            source="s3" if i % 2 else "http",
        )
        for i in range(16)
    )
    return JobProgress(
        files_done=312,
        files_total=2000,
        files_failed=3,
        bytes_done=int(1.2 * GiB),
        bytes_total=3 * GiB,
        speed=89_128_960.4,
        eta=21.3,
        in_flight=rows,
    )


@pytest.mark.parametrize(
    "progress",
    [
        JobProgress(),
        sixteen_in_flight(),
        JobProgress(files_done=1, bytes_done=7, bytes_total=None, speed=0.1, eta=None),
        JobProgress(in_flight=(InFlightFile("ünïcode ☀.fits", 0, None, 0.0, None),)),
    ],
    ids=["empty", "sixteen", "unknown-total", "unicode"],
)
def test_json_round_trip_is_exact(progress: JobProgress) -> None:
    text = json.dumps(progress.as_json())
    assert JobProgress.from_json(json.loads(text)) == progress


def test_unknown_keys_are_ignored_and_bad_values_refused() -> None:
    document = sixteen_in_flight().as_json()
    document["from_a_newer_writer"] = 1
    assert JobProgress.from_json(document) == sixteen_in_flight()
    for key, value in [("files_done", "3"), ("speed", None), ("in_flight", {}), ("eta", "x")]:
        broken = {**sixteen_in_flight().as_json(), key: value}
        with pytest.raises(ValueError, match="progress"):
            JobProgress.from_json(broken)
    del document["bytes_done"]
    with pytest.raises(ValueError, match="bytes_done is missing"):
        JobProgress.from_json(document)


def test_a_board_snapshot_becomes_job_progress_with_per_file_speed_and_source() -> None:
    clock = FakeClock()
    board = ProgressBoard(clock, window=2.0)
    board.add_expected(3, 300)
    board.start_file("k1", "a.fits", 100)
    board.start_file("k2", "b.fits", None, done=10)
    clock.now += 1.0
    board.advance("k1", 50)
    board.advance("k2", 20)
    board.start_file("k3", "c.fits", 100)
    board.finish_file("k3", ok=False)
    snapshot = board.snapshot()
    progress = job_progress(snapshot, sources={"k1": "s3"})
    assert (progress.files_done, progress.files_total, progress.files_failed) == (0, 3, 1)
    assert (progress.bytes_done, progress.bytes_total) == (80, 300)
    assert progress.speed == round(snapshot.speed, 1) and progress.speed > 0
    assert progress.eta == round(snapshot.eta or 0, 1)
    rows = {row.name: row for row in progress.in_flight}
    assert set(rows) == {"a.fits", "b.fits"}
    assert (rows["a.fits"].bytes_done, rows["a.fits"].bytes_total) == (50, 100)
    assert (rows["b.fits"].bytes_done, rows["b.fits"].bytes_total) == (30, None)
    assert rows["a.fits"].speed == 50.0 and rows["b.fits"].speed == 20.0
    assert (rows["a.fits"].source, rows["b.fits"].source) == ("s3", None)
    assert JobProgress.from_json(json.loads(json.dumps(progress.as_json()))) == progress


def test_speeds_and_eta_are_rounded_once() -> None:
    clock = FakeClock()
    board = ProgressBoard(clock, window=3.0)
    board.add_expected(1, 1000)
    board.start_file("k", "x", 1000)
    clock.now += 3.0
    board.advance("k", 100)
    snapshot = board.snapshot()
    progress = job_progress(snapshot)
    assert snapshot.speed != round(snapshot.speed, 1), "the case needs a speed to round"
    assert progress.speed == round(snapshot.speed, 1) == progress.in_flight[0].speed
    assert snapshot.eta is not None and progress.eta == round(snapshot.eta, 1)


def test_progress_line() -> None:
    line = progress_line(sixteen_in_flight())
    assert (
        line == "312/2000 files (3 failed), 1.2 GiB of 3.0 GiB, 85.0 MiB/s, ETA 21s, 16 in flight"
    )
    quiet = JobProgress(files_done=2, files_total=5, bytes_done=3 * MiB, speed=0.0)
    assert progress_line(quiet) == "2/5 files, 3.0 MiB, 0 B/s"


def test_retrying_files_are_published_apart_from_failed_ones() -> None:
    board = ProgressBoard(FakeClock())
    board.add_expected(3, 300)
    board.start_file("k1", "a.fits", 100)
    board.retry_file("k1")
    board.start_file("k2", "b.fits", 100)
    board.finish_file("k2", ok=False)
    progress = job_progress(board.snapshot())
    assert (progress.files_retrying, progress.files_failed) == (1, 1)
    assert JobProgress.from_json(json.loads(json.dumps(progress.as_json()))) == progress
    assert progress_line(progress).startswith("0/3 files (1 retrying, 1 failed), ")
    older = progress.as_json()
    del older["files_retrying"]  # published before retrying files were told apart
    assert JobProgress.from_json(older).files_retrying == 0
