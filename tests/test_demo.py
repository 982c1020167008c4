"""``make demo`` end to end, on the small archive profile: faults on, every file home, twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def run_demo(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skyhaul.demo", "--profile", "small", "--dir", "demo-data"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )


@pytest.mark.slow
def test_demo_downloads_everything_then_finds_it_done(tmp_path: Path) -> None:
    first = run_demo(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    data = tmp_path / "demo-data"
    manifest = (data / "manifest.csv").read_text().splitlines()
    assert manifest[0].startswith("url,path,size,checksum")
    assert len(manifest) == 25
    assert "24 downloaded, 0 failed, 0 abandoned — " in first.stdout
    assert f"Files:   {data / 'files'}" in first.stdout
    assert f"Catalog: {data / 'catalog.db'}" in first.stdout
    [downloaded_row] = [line for line in first.stdout.splitlines() if "DOWNLOADED" in line]
    assert "24" in downloaded_row
    assert len([p for p in (data / "files").rglob("*") if p.is_file()]) == 24

    second = run_demo(tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 downloaded, 0 failed, 0 abandoned — nothing to do" in second.stdout
    assert "Run the demo again" in second.stdout
