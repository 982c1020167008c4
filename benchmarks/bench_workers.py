"""Workers (issue 17): throughput with 1, 2 and 4 Celery workers against the one-process engine.

    python -m benchmarks.bench_workers [--quick] [--url PG_URL] [--broker REDIS_URL] [--root DIR]

Two datasets, each served by the archive simulator as a child process (``skyhaul sim
--files N --size S --kind blob``, its cache under ``--root``): A, 20,000 files of 4 KiB;
B, 8 files of 256 MiB (``--quick``: 2,000 files and 8 x 16 MiB). For each, five settings
download the whole dataset from a manifest (url, path, size, sha256 from the simulator's
``/api/files``) into an empty destination, ``-j 16``:

- one process, SQLite catalog (the embedded default): ``skyhaul get -i MANIFEST``;
- one process, PostgreSQL catalog (a throw-away schema);
- 1, 2 and 4 Celery workers (``skyhaul worker -c 1 -Q downloads`` each, over Redis,
  started and ready before the clock starts), the same ``get`` with ``--executor celery
  --messages N``, which publishes the job and follows it in the catalog until settled.

Each setting gets a fresh catalog (a new SQLite file or PostgreSQL schema) and, for the
workers, a flushed Redis database. The wall time is the ``get`` process's, from start to
exit (registering the manifest included). Reported per setting: wall seconds, files/s,
MiB/s, the ratio to the one-process SQLite run of the same dataset, the files DOWNLOADED
in the catalog (must be N), what each worker downloaded (from its log), the bytes the
simulator served over the dataset's size (1.00: nothing fetched twice), how many of the
machine's cores were busy on average (whoever used them) and the 1-minute load average
before and after.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from benchmarks.bench_catalog import DEFAULT_POSTGRES, catalog_backends, scratch_catalog
from benchmarks.procs import last_line, machine_busy_seconds, run_measured
from benchmarks.simproc import SimProcess, skyhaul_script
from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.model import FileState

DEFAULT_BROKER = "redis://127.0.0.1:6379/8"
WORKER_COUNTS = (1, 2, 4)
CONCURRENCY = 16
MIB = 1024 * 1024
_READY_TIMEOUT_S = 90.0
_STOP_TIMEOUT_S = 20.0
_SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass(frozen=True)
class Dataset:
    """What the simulator serves: ``files`` files of ``size`` bytes each."""

    name: str
    files: int
    size: int

    @property
    def total(self) -> int:
        """Bytes of the whole dataset."""
        return self.files * self.size

    @property
    def label(self) -> str:
        """``A: 20,000 x 4 KiB`` and the like."""
        size = f"{self.size // MIB} MiB" if self.size >= MIB else f"{self.size // 1024} KiB"
        return f"{self.name}: {self.files:,} x {size}"


DATASETS = (Dataset("A", 20_000, 4 * 1024), Dataset("B", 8, 256 * MIB))
QUICK_DATASETS = (Dataset("A", 2_000, 4 * 1024), Dataset("B", 8, 16 * MIB))


@dataclass(frozen=True)
class Setting:
    """How one run downloads: ``workers == 0`` is the one-process engine."""

    backend: str  # sqlite or postgresql
    workers: int

    @property
    def label(self) -> str:
        """The table's name of the setting."""
        if self.workers == 0:
            return f"one process, {'SQLite' if self.backend == 'sqlite' else 'PostgreSQL'}"
        return f"{self.workers} worker{'s' if self.workers > 1 else ''}, PostgreSQL"


@dataclass(frozen=True)
class Result:
    """The figures of one (dataset, setting), as the JSON lines and the table give them."""

    dataset: str
    files: int
    size: int
    setting: str
    workers: int
    backend: str
    wall_s: float
    files_per_s: float
    mib_per_s: float
    get_cpu_s: float
    busy_cores: float
    downloaded: int
    bytes_on_disk: int
    served_ratio: float
    returncode: int
    load_before: float
    load_after: float
    shares: list[int]


def load1() -> float:
    """The machine's 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def child_env(broker: str) -> dict[str, str]:
    """The environment of ``get`` and the workers: this tree's skyhaul, the broker."""
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": f"{_SRC}{os.pathsep}{path}" if path else str(_SRC),
        "SKYHAUL_BROKER": broker,
    }


def write_manifest(path: Path, sim: SimProcess) -> int:
    """Write the simulator's files as a CSV manifest (url, path, size, checksum); count them."""
    listing = sim.listing()
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["url", "path", "size", "checksum"])
        for entry in listing:
            checksum = f"sha256:{entry['sha256']}"
            writer.writerow([entry["url"], entry["path"], entry["size"], checksum])
    return len(listing)


def bytes_under(directory: Path) -> int:
    """Sum of the sizes of the files under ``directory`` (0 when it does not exist)."""
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(directory)
        for name in names
    )


def downloaded(catalog_url: str) -> int:
    """Files DOWNLOADED in the catalog, counted from the files table."""
    catalog = open_catalog(catalog_url, create=False)
    try:
        return catalog.recount_totals()[FileState.DOWNLOADED].count
    finally:
        catalog.close()


def shares(logs: Sequence[Path]) -> list[int]:
    """Files each worker downloaded, from the results its tasks logged.

    Celery's ``Task ... succeeded in ...: {'downloaded': K, ...}`` line, once per task;
    the ``job N: K downloaded`` line comes twice (the skyhaul logger's own handler, and
    Celery's redirection of it), so it is not counted.
    """
    pattern = re.compile(r"succeeded in [\d.]+s: \{'downloaded': (\d+)")
    return [sum(int(m.group(1)) for m in pattern.finditer(log.read_text())) for log in logs]


def flush_broker(broker: str) -> None:
    """Empty the broker's Redis database: no message of a previous run is left."""
    import redis

    redis.Redis.from_url(broker, socket_connect_timeout=3).flushdb()


def broker_problem(broker: str) -> str | None:
    """Why the broker cannot be used (None: it answers)."""
    import redis

    try:
        flush_broker(broker)
    except redis.RedisError as error:
        return f"Redis not reachable at {broker} ({error})"
    return None


def _stop_group(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to the worker (its warm shutdown), SIGKILL to its group after ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the pool's children, if any outlived it
    proc.wait(timeout)


@contextmanager
def running_workers(count: int, logs: Path, env: dict[str, str]) -> Iterator[list[Path]]:
    """``count`` workers (``skyhaul worker -c 1 -Q downloads``), each ready, for a block.

    Readiness is Celery's ``ready.`` line in the worker's log (its stderr); the workers are
    stopped when the block is left, whatever happened in it.
    """
    procs: list[subprocess.Popen[bytes]] = []
    files: list[IO[bytes]] = []
    paths = [logs / f"worker-{count}-{n}.log" for n in range(count)]
    try:
        for path in paths:
            log = path.open("wb")
            files.append(log)
            procs.append(
                subprocess.Popen(
                    [skyhaul_script(), "worker", "-c", "1", "-Q", "downloads"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + _READY_TIMEOUT_S
        for proc, path in zip(procs, paths, strict=True):
            while b"ready." not in path.read_bytes():
                if proc.poll() is not None:
                    text = path.read_text(errors="replace")
                    raise RuntimeError(f"a worker exited at start: {last_line(text)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"a worker was not ready within {_READY_TIMEOUT_S:.0f} s")
                time.sleep(0.1)
        yield paths
    finally:
        for proc in procs:
            _stop_group(proc, _STOP_TIMEOUT_S)
        for log in files:
            log.close()


def run_get(
    catalog_url: str,
    manifest: Path,
    dest: Path,
    workers: int,
    scratch: Path,
    env: dict[str, str],
    timeout: float,
) -> tuple[float, float, int, float]:
    """Time one ``skyhaul get``; return wall s, its CPU s, exit code and busy cores."""
    argv = [skyhaul_script(), "get", "-i", str(manifest), "-d", str(dest)]
    argv += ["--catalog", catalog_url, "-j", str(CONCURRENCY), "--json"]
    if workers:
        argv += ["--executor", "celery", "--messages", str(workers)]
    busy = machine_busy_seconds()
    measured = run_measured(
        argv,
        timeout=timeout,
        stdout=scratch / "get.out",
        stderr=scratch / "get.err",
        env=env,
    )
    cores = (machine_busy_seconds() - busy) / measured.wall if measured.wall > 0 else 0.0
    if measured.returncode != 0:
        err = (scratch / "get.err").read_text(errors="replace")
        print(f"get exited with {measured.returncode}: {last_line(err)}", flush=True)
    return measured.wall, measured.cpu, measured.returncode, cores


def run_setting(
    dataset: Dataset,
    setting: Setting,
    sim: SimProcess,
    manifest: Path,
    postgres: str,
    broker: str,
    scratch: Path,
    timeout: float,
) -> Result:
    """Download the dataset once in ``setting`` into a fresh catalog and destination."""
    dest = scratch / "dest"
    shutil.rmtree(dest, ignore_errors=True)
    env = child_env(broker)
    sim.configure({})  # no faults; the served bytes counted from here
    with scratch_catalog(None if setting.backend == "sqlite" else postgres) as (url, _):
        open_catalog(url).close()  # its tables exist before the clock starts
        load_before = load1()
        if setting.workers:
            flush_broker(broker)
            with running_workers(setting.workers, scratch, env) as logs:
                wall, cpu, code, cores = run_get(
                    url, manifest, dest, setting.workers, scratch, env, timeout
                )
            split = shares(logs)  # read once the workers have stopped and flushed their logs
        else:
            wall, cpu, code, cores = run_get(url, manifest, dest, 0, scratch, env, timeout)
            split = []
        load_after = load1()
        done = downloaded(url)
    on_disk = bytes_under(dest)
    shutil.rmtree(dest, ignore_errors=True)
    served = int(sim.stats()["bytes_sent"])
    return Result(
        dataset=dataset.label,
        files=dataset.files,
        size=dataset.size,
        setting=setting.label,
        workers=setting.workers,
        backend=setting.backend,
        wall_s=round(wall, 2),
        files_per_s=round(dataset.files / wall, 1),
        mib_per_s=round(dataset.total / MIB / wall, 1),
        get_cpu_s=round(cpu, 2),
        busy_cores=round(cores, 2),
        downloaded=done,
        bytes_on_disk=on_disk,
        served_ratio=round(served / dataset.total, 3),
        returncode=code,
        load_before=load_before,
        load_after=load_after,
        shares=split,
    )


def markdown_table(results: Sequence[Result]) -> str:
    """The results as the Markdown table of benchmarks/README.md."""
    lines = [
        "| dataset | setting | wall s | files/s | MiB/s | vs one process SQLite "
        "| downloaded | per worker | served / size | busy cores | load before → after |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    base = {r.dataset: r.wall_s for r in results if r.workers == 0 and r.backend == "sqlite"}
    for r in results:
        ratio = f"{base[r.dataset] / r.wall_s:.2f}x" if r.dataset in base and r.wall_s else "–"
        short = "" if r.downloaded == r.files and r.returncode == 0 else " ❌"
        lines.append(
            f"| {r.dataset} | {r.setting} | {r.wall_s:.2f} | {r.files_per_s:,.1f} "
            f"| {r.mib_per_s:,.1f} | {ratio} | {r.downloaded:,} / {r.files:,}{short} "
            f"| {' / '.join(f'{n:,}' for n in r.shares) or '–'} "
            f"| {r.served_ratio:.2f} | {r.busy_cores:.2f} "
            f"| {r.load_before:.2f} → {r.load_after:.2f} |"
        )
    return "\n".join(lines)


def description(results: Sequence[Result], started: datetime, ended: datetime) -> str:
    """The paragraph printed above the table: what ran, where, and how to read it."""
    loads = [r.load_before for r in results] + [r.load_after for r in results]
    span = f"{min(loads):.2f} to {max(loads):.2f}" if loads else "n/a"
    return (
        f"`python -m benchmarks.bench_workers`, {started:%Y-%m-%d %H:%M} to {ended:%H:%M} "
        f"UTC, on this machine's {os.cpu_count()} cores, shared with PostgreSQL, Redis and "
        f"the simulator (a child process serving the files from its cache): more workers "
        f"compete for the same CPU, so the worker rows show the cost of distribution, not "
        f"its gain on separate machines. 1-minute load averages during the run: {span}. "
        f"Each setting downloads the whole dataset (`-j {CONCURRENCY}`) into an empty "
        f"destination with a fresh catalog; the workers (`skyhaul worker -c 1`, one per "
        f"message) are ready before the clock starts, and the wall time is `skyhaul get`'s "
        f"from start to exit (with `--executor celery` it follows the job until settled). "
        f"'vs one process SQLite' is that run's wall time over this one's (above 1: faster)."
    )


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.bench_workers [--quick] [--url URL]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2,000 x 4 KiB and 8 x 16 MiB")
    parser.add_argument("--url", default=DEFAULT_POSTGRES, help="PostgreSQL catalog URL")
    parser.add_argument("--broker", default=DEFAULT_BROKER, help="Redis broker of the workers")
    parser.add_argument(
        "--root", type=Path, default=Path("/dev/shm"), help="where the simulator's cache and "
        "the destination go (needs twice the largest dataset free)",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per setting")
    parser.add_argument(
        "--only", choices=("A", "B"), help="run one dataset (A: small files, B: large ones)"
    )
    args = parser.parse_args(argv)
    datasets = QUICK_DATASETS if args.quick else DATASETS
    if args.only is not None:
        datasets = tuple(d for d in datasets if d.name == args.only)
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; cpus {os.cpu_count()}")
    backends, skipped = catalog_backends(args.url)
    for why in skipped.values():
        print(f"postgresql skipped: {why}")
    settings = [Setting("sqlite", 0)]
    if len(backends) > 1:
        settings.append(Setting("postgresql", 0))
        why_not = broker_problem(args.broker)
        if why_not is None:
            settings += [Setting("postgresql", n) for n in WORKER_COUNTS]
        else:
            print(f"workers skipped: {why_not}")
    need = 2 * max(d.total for d in datasets) + 256 * MIB
    free = shutil.disk_usage(args.root).free
    if free < need:
        raise SystemExit(f"{args.root}: {free / MIB:,.0f} MiB free, {need / MIB:,.0f} needed")
    started = datetime.now(UTC)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="skyhaul-bench-workers-", dir=args.root) as tmp:
        scratch = Path(tmp)
        for dataset in datasets:
            sim_args = [f"--files={dataset.files}", f"--size={dataset.size}", "--kind=blob"]
            sim_args.append(f"--root={scratch / 'sim'}")
            with SimProcess(scratch, sim_args) as sim:
                manifest = scratch / "manifest.csv"
                if write_manifest(manifest, sim) != dataset.files:
                    raise RuntimeError(f"the simulator does not serve {dataset.files} files")
                for setting in settings:
                    result = run_setting(
                        dataset, setting, sim, manifest, args.url, args.broker, scratch,
                        args.timeout,
                    )  # fmt: skip
                    print(json.dumps(asdict(result)), flush=True)
                    results.append(result)
            shutil.rmtree(scratch / "sim", ignore_errors=True)
    ended = datetime.now(UTC)
    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    print()
    print(description(results, started, ended))
    print()
    print(markdown_table(results))


if __name__ == "__main__":
    main()
