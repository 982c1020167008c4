"""``skyhaul sim observatory`` through the real app, beside ``skyhaul sim`` itself."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from skyhaul.adapters.raw_scan import scan_directory
from skyhaul.core.scanpattern import ScanPattern

Invoke = Callable[..., Result]


def test_writes_count_files_then_exits_0(skyhaul: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "source"
    result = skyhaul(
        "sim", "observatory", "--dir", str(out), "--count", "6", "--rate", "2000/s",
        "--units", "2", "--modules", "3", "--size", "1KiB-8KiB", "--seed", "7",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"skyhaul-sim observatory writing into {out} (2000 files/s")
    assert lines[-1].startswith("skyhaul-sim observatory wrote 6 files (")
    report = scan_directory(out, ScanPattern.parse("{obs_unit}/{instrument_module}/**"))
    assert len(report.files) == 6
    assert {e.obs_unit for e in report.files} == {"obs-001", "obs-002"}
    assert all(1024 <= e.size <= 8192 for e in report.files)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "0"], "--rate: must be greater than zero"),
        (["--count", "0"], "--count: must be at least 1"),
        (["--size", "8KiB-1KiB"], "--size: expected SIZE or MIN-MAX"),
        (["--units", "lots"], "--units: cannot read"),
        (["--duration", "soon"], "--duration: cannot read"),
        (["--bogus"], "No such option: --bogus"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    skyhaul: Invoke, tmp_path: Path, args: list[str], message: str
) -> None:
    result = skyhaul("sim", "observatory", "--dir", str(tmp_path / "d"), *args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skyhaul: error: ")
    assert message in lines[0]
    assert not (tmp_path / "d").exists()


def test_a_server_option_with_the_subcommand_is_refused(skyhaul: Invoke, tmp_path: Path) -> None:
    result = skyhaul("sim", "--s3", "observatory", "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert "--s3: an option of 'skyhaul sim' itself" in result.output


def test_sim_still_reads_its_own_options(skyhaul: Invoke) -> None:
    result = skyhaul("sim", "--kind", "zip")
    assert result.exit_code == 2
    assert result.output.strip() == "skyhaul: error: --kind: must be fits or blob, got 'zip'"
    listed = skyhaul("sim", "--help")
    assert listed.exit_code == 0
    assert "observatory" in listed.stdout and "--mast-profile" in listed.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_it_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    out = tmp_path / "source"
    process = subprocess.Popen(
        [sys.executable, "-c", "from skyhaul.cli.app import main; main()", "sim", "observatory",
         "--dir", str(out), "--rate", "200/s", "--size", "1KiB"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "no first line before the deadline"
        assert process.stdout.readline().startswith("skyhaul-sim observatory writing into")
        process.send_signal(signum)
        rest, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    written = int(rest.split(" wrote ")[1].split()[0])
    on_disk = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert len(on_disk) == written
    assert not [p for p in out.rglob(".*.tmp")]  # no half-written file left behind
