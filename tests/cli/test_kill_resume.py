"""Kill ``skyhaul get`` with SIGKILL halfway, run it again: every file is correct and
the server sends again at most one segment per file that was in flight."""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import Selection
from skyhaul.sim.archive import ArchiveSpec
from skyhaul.sim.config import SimConfig
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.thread import SimThread

MIB = 1024 * 1024
SEGMENT = 512 * 1024


def _skyhaul(*args: str) -> list[str]:
    return [sys.executable, "-c", "from skyhaul.cli.app import main; main()", *args]


def test_sigkill_halfway_then_resume(tmp_path: Path) -> None:
    spec = ArchiveSpec.exact(8, 3 * MIB, seed=51)
    with SimThread(SimConfig(archive=spec, root=tmp_path / "sim")) as sim:
        sim.set_faults(FaultConfig(bandwidth=1 * MIB))
        files = sim.files
        total = sum(f.size for f in files)
        manifest = tmp_path / "manifest.csv"
        with manifest.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["url", "path", "size", "checksum"])
            for f in files:
                writer.writerow([f.url, f.path, f.size, f"sha256:{f.sha256}"])
        catalog_path = tmp_path / "catalog.db"
        command = _skyhaul(
            "get", "-i", str(manifest), "-d", str(tmp_path / "out"),
            "--catalog", str(catalog_path), "-j", "4", "--max-per-host", "8",
            "--segment-size", "512KiB", "--no-progress",
        )  # fmt: skip
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while sim.stats.snapshot().bytes_sent < total // 2:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the first run made no progress"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        if child.stderr:
            child.stderr.close()
        served = sim.stats.snapshot().bytes_by_path

        catalog = open_catalog(f"sqlite:///{catalog_path}")
        try:
            done = {
                r.path
                for r in catalog.list_files(Selection(states=frozenset({FileState.DOWNLOADED})))
            }
        finally:
            catalog.close()
        # In flight: bytes were served for it, but it was not DOWNLOADED yet.
        in_flight = sum(1 for f in files if f.path not in done and served.get(f.path, 0) > 0)
        assert in_flight > 0, (served, done)
        assert len(done) < len(files)

        sim.set_faults(FaultConfig())
        again = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        sent_twice = sim.stats.snapshot().bytes_sent - total

    for f in files:
        data = (tmp_path / "out" / f.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256
    assert not list((tmp_path / "out").rglob("*.part"))
    print(f"sent twice: {sent_twice} bytes, {in_flight} files in flight")
    assert sent_twice <= in_flight * SEGMENT, (
        f"{sent_twice} bytes sent twice for {in_flight} files in flight"
    )
