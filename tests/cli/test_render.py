"""Drawing progress snapshots and run summaries (no terminal needed: rich records)."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace

from rich.console import Console, RenderableType

from skyhaul.cli.render import live_progress, render_snapshot, summary_lines
from skyhaul.cli.transfer import exit_code
from skyhaul.core.model import Failure, RunSummary
from skyhaul.core.progress import FileProgress, ProgressBoard, ProgressSnapshot

MiB = 1024 * 1024


def text_of(*renderables: RenderableType, width: int = 120) -> str:
    console = Console(record=True, width=width, file=io.StringIO())
    for renderable in renderables:
        console.print(renderable)
    return console.export_text()


def snapshot(active: int = 2, eta: float | None = 12.0) -> ProgressSnapshot:
    return ProgressSnapshot(
        files_total=10,
        files_done=3,
        files_failed=1,
        bytes_total=100 * MiB,
        bytes_done=25 * MiB,
        speed=5 * MiB,
        eta=eta,
        elapsed=5.0,
        active=tuple(
            FileProgress(f"k{i}", f"raw/AIA/file_{i}.fits", 8 * MiB, 2 * MiB, MiB)
            for i in range(active)
        ),
    )


def test_snapshot_shows_totals_and_active_files() -> None:
    text = text_of(render_snapshot(snapshot(), width=120))
    first, *rows = text.splitlines()
    assert "3/10 files, 1 failed" in first
    assert "25.0 MiB / 100.0 MiB" in first
    assert "5.0 MiB/s" in first
    assert "ETA 12s" in first
    assert len(rows) == 2
    assert "raw/AIA/file_0.fits" in rows[0]
    assert "2.0 MiB / 8.0 MiB" in rows[0]
    assert "1.0 MiB/s" in rows[0]


def test_snapshot_fits_narrow_terminals_and_caps_rows() -> None:
    text = text_of(render_snapshot(snapshot(active=10), width=80), width=80)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert len(lines) == 1 + 8 + 1
    assert "2 more in flight" in lines[-1]


def test_final_frame_has_no_file_rows_and_shows_elapsed_time() -> None:
    text = text_of(render_snapshot(snapshot(eta=None), final=True))
    assert len(text.splitlines()) == 1
    assert "5.0s" in text
    assert "ETA" not in text


def test_unknown_totals_and_sizes() -> None:
    unknown = ProgressSnapshot(
        files_total=2,
        files_done=0,
        files_failed=0,
        bytes_total=None,
        bytes_done=1024,
        speed=0.0,
        eta=None,
        elapsed=1.0,
        active=(FileProgress("k", "x.fits", None, 1024, 0.0),),
    )
    text = text_of(render_snapshot(unknown))
    assert "0/2 files" in text
    assert "1.0 KiB /" not in text


def test_summary_lines() -> None:
    summary = RunSummary(
        downloaded=200,
        failed=1,
        abandoned=12,
        bytes=310 * MiB,
        seconds=4.0,
        failures=[
            Failure(f"https://h.example/f{i}?token=t0ps3cret", "server", "503 Service Unavailable")
            for i in range(12)
        ]
        + [Failure("https://h.example/gone", "client", "404 Not Found", abandoned=True)],
    )
    text = text_of(*summary_lines(summary, files_at="/data/files", catalog_at="/data/cat.db"))
    lines = text.splitlines()
    assert lines[0] == "200 downloaded, 1 failed, 12 abandoned — 310.0 MiB in 4.0s (77.5 MiB/s)"
    assert lines[1].split() == [
        "failed",
        "server",
        "https://h.example/f0?token=REDACTED:",
        "503",
        "Service",
        "Unavailable",
    ]
    assert len([line for line in lines if "REDACTED" in line]) == 10
    assert "… and 3 more" in lines[11]
    assert lines[-2:] == ["Files:   /data/files", "Catalog: /data/cat.db"]
    assert "t0ps3cret" not in text


def test_summary_of_a_run_with_nothing_to_do() -> None:
    lines = text_of(*summary_lines(RunSummary(seconds=0.02), files_at=None, catalog_at="c.db"))
    assert lines.splitlines()[0] == "0 downloaded, 0 failed, 0 abandoned — nothing to do"


def test_summary_of_an_interrupted_run_without_a_destination() -> None:
    summary = RunSummary(downloaded=3, bytes=0, seconds=0.0, interrupted=True)
    lines = text_of(*summary_lines(summary, files_at=None, catalog_at="c.db")).splitlines()
    assert lines[0] == "3 downloaded, 0 failed, 0 abandoned — 0 B in 0.0s"
    assert lines[1].startswith("Interrupted: files stay resumable")
    assert lines[2] == "Catalog: c.db"


def test_exit_codes() -> None:
    assert exit_code(RunSummary(downloaded=3)) == 0
    assert exit_code(RunSummary(downloaded=3, failed=1)) == 1
    assert exit_code(RunSummary(abandoned=1)) == 1
    assert exit_code(RunSummary(failed=1, interrupted=True)) == 130


def test_live_progress_draws_while_the_body_runs() -> None:
    now = [0.0]
    board = ProgressBoard(lambda: now[0])
    board.add_expected(2, 2 * MiB)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)

    async def body() -> None:
        async with live_progress(board, console, interval=0.01):
            board.start_file("a", "a.fits", MiB)
            for _ in range(4):
                now[0] += 0.5
                board.advance("a", MiB // 4)
                await asyncio.sleep(0.02)
            board.finish_file("a", True)

    asyncio.run(body())
    drawn = out.getvalue()
    assert "a.fits" in drawn
    assert "1/2 files" in drawn


def test_snapshot_tells_retrying_files_apart_from_failed_ones() -> None:
    snap = replace(snapshot(), files_retrying=2)
    first = text_of(render_snapshot(snap, width=120)).splitlines()[0]
    assert "3/10 files, 2 retrying, 1 failed" in first


def test_summary_tells_what_was_repaired() -> None:
    summary = RunSummary(
        downloaded=5,
        bytes=5 * MiB,
        seconds=1.0,
        retries={"integrity": 1, "server": 2},
        integrity_refetched=1,
        sources_switched=2,
    )
    lines = text_of(*summary_lines(summary, files_at=None, catalog_at="c.db")).splitlines()
    assert lines[1] == (
        "Repaired: 3 retries (2 server, 1 integrity), 1 integrity mismatch fetched again, "
        "2 sources switched"
    )
    assert lines[2] == "Catalog: c.db"


def test_a_run_that_left_named_files_undone_exits_1() -> None:
    assert exit_code(RunSummary(unfinished={"abandoned": 1})) == 1
    assert exit_code(RunSummary(unfinished={"abandoned": 1}, interrupted=True)) == 130
