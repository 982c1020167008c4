"""What checkpoints cost: the fsync of a part file per checkpoint, and a run's throughput.

    python -m benchmarks.bench_checkpoint [--repeat N] [--dirs DIR,DIR] [--no-runs]

Issue 13 (section 5) asks for checkpoints by bytes and by time, whichever comes first,
and for the fsync cost to be measured and said. A checkpoint is ``PartFile.sync`` (an
``os.fsync`` of the part file) followed by one row of the segment map (SQLite in WAL mode
with ``synchronous=NORMAL``: no fsync of its own).

Rules:
- Each directory (default: ``/dev/shm`` and the repository's ``bench-data/``, on the
  disk) gets two measurements.
- fsync alone: four part files of 256 MiB (skyhaul's ``PartFile``) written round-robin in
  1 MiB writes, as four files of scenario (a) arrive, under three policies: a sync of a
  file every 4 MiB written to it (half of an 8 MiB segment: the byte rule), a sync of
  each file once a second (the time rule alone), and none until the end. Every policy
  ends with one sync per file, as the commit before the rename does. Reported: the time
  of each sync call (median, 90th percentile, largest) and the write rate, end syncs
  included.
- A run: ``skyhaul get -j 4 --segment-size 8MiB`` of scenario (a)'s 4 x 256 MiB (sha256
  in the manifest) from nginx on loopback, unpaced, with output and catalog in the
  directory: ``--checkpoint-interval 1s`` (the default: bytes and time) against ``1h``
  (the byte rule alone, as before the time rule), alternating, medians of ``--repeat``.
  The current tree's skyhaul runs (export ``PYTHONPATH=<worktree>/src`` from a worktree;
  the module's path is printed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import skyhaul
from benchmarks import peers
from benchmarks.client_runs import fresh_job, run_once
from benchmarks.datasets import Dataset, offer
from benchmarks.install import Installer
from benchmarks.servers import NginxServer
from benchmarks.tools import REPO, find_tools
from skyhaul.adapters.storage import PartFile

__all__ = ["SyncPolicy", "main", "sync_costs"]

MiB = 1 << 20
FILES = 4
SIZE = 256 * MiB
WRITE = MiB
#: Half of an 8 MiB segment: the byte rule's threshold.
EVERY_BYTES = 4 * MiB
EVERY_SECONDS = 1.0
POLICIES = ("every 4 MiB (bytes)", "every 1 s (time)", "at the end only")
RUN_TIMEOUT_S = 600.0


class SyncPolicy:
    """When a file is synced while it is written (one of ``POLICIES``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._last = [time.perf_counter()] * FILES

    def due(self, index: int, written: int) -> bool:
        """Whether file ``index``, with ``written`` bytes in it, is synced now."""
        if self.name == POLICIES[0]:
            return written % EVERY_BYTES == 0
        if self.name == POLICIES[1]:
            now = time.perf_counter()
            if now - self._last[index] >= EVERY_SECONDS:
                self._last[index] = now
                return True
        return False


def sync_costs(directory: Path, policy: str) -> tuple[list[float], float]:
    """Write four part files under ``directory`` with ``policy``; return the seconds of
    each sync during the writes, and the write rate in MiB/s (end syncs included)."""
    block = os.urandom(WRITE)
    parts = [PartFile(directory / f"f{i}.bin") for i in range(FILES)]
    syncs: list[float] = []
    rule = SyncPolicy(policy)
    began = time.perf_counter()
    for part in parts:
        part.open(truncate=True)
    try:
        for offset in range(0, SIZE, WRITE):
            for index, part in enumerate(parts):
                part.write_many_at(offset, [block])
                if rule.due(index, offset + WRITE):
                    start = time.perf_counter()
                    part.sync()
                    syncs.append(time.perf_counter() - start)
        for part in parts:
            part.sync()
        rate = FILES * SIZE / MiB / (time.perf_counter() - began)
    finally:
        for part in parts:
            part.discard()
    return syncs, rate


def _ms(values: Sequence[float], share: float) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000:.2f}"


def _sync_table(directory: Path, repeat: int) -> None:
    print(f"\n## fsync of a part file, {directory} ({FILES} x {SIZE // MiB} MiB, 1 MiB writes)\n")
    print("| policy | syncs per run | median ms | p90 ms | max ms | write MiB/s (median) |")
    print("|---|---:|---:|---:|---:|---:|")
    for policy in POLICIES:
        calls: list[float] = []
        rates: list[float] = []
        for _ in range(repeat):
            syncs, rate = sync_costs(directory, policy)
            calls.extend(syncs)
            rates.append(rate)
        shown = [_ms(calls, 0.5), _ms(calls, 0.9), _ms(calls, 1.0)] if calls else ["-"] * 3
        count = len(calls) / repeat
        print(f"| {policy} | {count:g} | {' | '.join(shown)} | {statistics.median(rates):,.0f} |")


def _run_table(directory: Path, repeat: int) -> None:
    tools = find_tools(Installer(allowed=False, say=lambda line: None))
    nginx, sky = tools["nginx"], tools["skyhaul"]
    if nginx.path is None or sky.path is None:
        print(f"\n(runs skipped: nginx {nginx.version}; skyhaul {sky.version})")
        return
    print(f"\n## skyhaul get -j 4, {FILES} x {SIZE // MiB} MiB from nginx, into {directory}\n")
    clients = {
        interval: peers.skyhaul(FILES, "--segment-size", "8MiB", "--checkpoint-interval", interval)
        for interval in ("1s", "1h")
    }
    walls: dict[str, list[float]] = {name: [] for name in clients}
    cpus: dict[str, list[float]] = {name: [] for name in clients}
    with tempfile.TemporaryDirectory(dir="/dev/shm") as served:
        Path(served).chmod(0o755)  # nginx workers drop root: they must read below it
        with NginxServer(nginx.path, Path(served)) as server:
            offered = offer(
                Dataset("large", FILES, SIZE),
                Path(served),
                directory / "lists",
                server.base_url,
                checksums=True,
            )
            for repetition in range(repeat):
                order = list(clients) if repetition % 2 == 0 else list(reversed(clients))
                for name in order:
                    job = fresh_job(offered, directory / f"run-{name}")
                    record = run_once(clients[name], sky, job, repetition, timeout=RUN_TIMEOUT_S)
                    if record.files_ok != FILES or record.measurement.returncode != 0:
                        raise SystemExit(
                            f"{name}: {record.files_ok} files ok\n{record.stderr_tail}"
                        )
                    walls[name].append(record.measurement.wall)
                    cpus[name].append(record.measurement.cpu)
                    shutil.rmtree(job.out_dir, ignore_errors=True)
    print("| --checkpoint-interval | wall s (median) | MiB/s | CPU s | walls |")
    print("|---|---:|---:|---:|---|")
    for name in clients:
        wall = statistics.median(walls[name])
        rate = FILES * SIZE / MiB / wall
        each = ", ".join(f"{w:.2f}" for w in walls[name])
        print(
            f"| {name} | {wall:.2f} | {rate:,.0f} | {statistics.median(cpus[name]):.2f} | {each} |"
        )
    ratio = statistics.median(walls["1s"]) / statistics.median(walls["1h"])
    print(f"\nwall, 1s ÷ 1h (bytes and time ÷ bytes alone): {ratio:.3f}")


def main(argv: list[str] | None = None) -> None:
    """Command line: print both tables for each directory (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    parser.add_argument(
        "--dirs",
        default=f"/dev/shm,{REPO / 'bench-data'}",
        help="comma-separated directories to write in",
    )
    parser.add_argument("--no-runs", action="store_true", help="the fsync table alone")
    args = parser.parse_args(argv)
    print(f"skyhaul from {Path(skyhaul.__file__).parent}; load {os.getloadavg()}", file=sys.stderr)
    for name in args.dirs.split(","):
        base = Path(name)
        base.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="skyhaul-bench-checkpoint-", dir=base) as work:
            _sync_table(Path(work), args.repeat)
            if not args.no_runs:
                _run_table(Path(work), args.repeat)
    print(f"\nload average after: {os.getloadavg()}", file=sys.stderr)


if __name__ == "__main__":
    main()
