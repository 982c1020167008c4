"""The pure parts of benchmarks/bench_packages.py (p): sizes, layout, the shell baseline,
where the destinations go, and the target check."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from benchmarks.bench_packages import (
    BASELINE,
    DestRun,
    baseline_script,
    destination_root,
    file_sizes,
    layout,
    targets,
    write_dataset,
)
from benchmarks.procs import Measurement

from skyhaul.core.scanpattern import ScanPattern

GiB = 1 << 30


def test_sizes_sum_to_the_total_and_keep_the_spread() -> None:
    sizes = file_sizes(2_000, 500 << 20, 4096, 4 << 20, seed=16)
    assert len(sizes) == 2_000 and sum(sizes) == 500 << 20
    assert min(sizes) >= 1 and max(sizes) / min(sizes) > 100  # mixed, not all alike
    assert sizes == file_sizes(2_000, 500 << 20, 4096, 4 << 20, seed=16)  # seeded
    assert sizes != file_sizes(2_000, 500 << 20, 4096, 4 << 20, seed=17)


def test_sizes_refuse_fewer_bytes_than_files() -> None:
    with pytest.raises(ValueError, match="at least one byte"):
        file_sizes(10, 5, 1, 2, seed=0)


def test_layout_spreads_files_over_unit_module_groups_the_pattern_matches() -> None:
    paths = layout(40, units=2, modules=4)
    groups = {p.rsplit("/", 1)[0] for p in paths}
    assert len(groups) == 8 and len(set(paths)) == 40
    pattern = ScanPattern.parse("{obs_unit}/{instrument_module}/**")
    assert pattern.match("obs-001/mod-3/raw_000015.dat") is not None
    assert paths[15] == "obs-001/mod-3/raw_000015.dat"


def test_baseline_script_tars_hashes_and_copies_each_group(tmp_path: Path) -> None:
    data = write_dataset(tmp_path / "src", files=120, total=1 << 20)
    buf, lta = tmp_path / "buf", tmp_path / "lta"
    script = baseline_script(data.groups, data.root, buf, lta)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    tars = sorted(p.name for p in lta.glob("*.tar"))
    assert tars == sorted(g.replace("/", "_") + ".tar" for g in data.groups)
    members = (buf / f"{data.groups[0].replace('/', '_')}.members.sha256").read_text()
    assert len(members.splitlines()) == sum(1 for _ in (data.root / data.groups[0]).iterdir())
    assert "cp " not in baseline_script(data.groups, data.root, buf, None)


def test_destinations_leave_shm_when_memory_is_short(tmp_path: Path) -> None:
    shm, disk = tmp_path / "shm", tmp_path / "disk"
    assert destination_root(20 * GiB, 10 * GiB, shm=shm, disk=disk) == shm
    assert destination_root(12 * GiB, 10 * GiB, shm=shm, disk=disk) == disk


def _run(client: str, destination: str, wall: float, *, complete: bool = True) -> DestRun:
    return DestRun(client, destination, {"all": Measurement(wall, 1.0, 0, False)}, complete)


def test_target_is_throughput_ratio_per_destination() -> None:
    runs = [
        _run("skyhaul", "local", 10.0),
        _run(BASELINE, "local", 9.0),
        _run("skyhaul", "s3", 20.0),
        _run(BASELINE, "s3", 10.0),
    ]
    local, s3 = targets(runs, 1 << 30)
    assert local.verdict == "met" and "0.90" in local.detail
    assert s3.verdict == "missed" and "0.50" in s3.detail


def test_an_incomplete_run_misses_the_target_and_a_missing_client_is_na() -> None:
    runs = [_run("skyhaul", "local", 1.0, complete=False), _run(BASELINE, "local", 9.0)]
    local, s3 = targets(runs, 1 << 30)
    assert local.verdict == "missed" and "did not archive" in local.detail
    assert s3.verdict == "n/a"
