"""S3 throughput from the simulator's S3: skyhaul's S3 transport beside the usual clients.

    python -m benchmarks.bench_s3 [--quick] [--repeat N] [--workdir DIR]

``make bench`` runs it as scenario (s) (``python -m benchmarks.run --only s``).

Rules:
- The server is ``skyhaul sim --s3`` in a child process (moto in server mode; no fault
  knob, so no proxy: the endpoint is moto's own), one per dataset: 4 x 256 MiB and
  200 x 1 MiB (``--quick``: 2 x 64 MiB and 50 x 1 MiB). Its files are cached where every
  simulator caches them, so a second run uploads but does not generate them again.
- Every client runs as a child process (wall and CPU from :mod:`benchmarks.procs`), signs
  with the simulator's keys, writes every object under a fresh directory in /dev/shm
  (removed after the run), and is checked afterwards: every file there with its size, the
  first one byte for byte. Medians of ``--repeat`` runs (3).
- Clients, all in the same run: (a) ``S3Transport`` streaming each object to its file (the
  transport alone: no hashing, no catalog); (b) the aws CLI, ``aws s3 cp``, when installed;
  (c) boto3's ``download_file``; (d) ``skyhaul get -i MANIFEST`` of the ``s3://`` URLs
  (columns url and path = the key, so its files land where the others' do) with
  ``AWS_ENDPOINT_URL_S3``: the whole engine (catalog, sha256 of every file, fsync, promote).
- Each object is one GET for every client: ranged multipart downloads are off for (b),
  (c) and (d). moto answers a range by reading the whole object first, so 8 MiB parts of a
  256 MiB object would measure moto (about 50 MiB/s), not the client.
- Streams: one per object for the large files (4), 16 for the small ones; and one 256 MiB
  object over one stream, (a) against (c): the figure for obstore against boto3.
- The clients share the machine's cores with moto (one Python process): the figures
  compare clients on one server, they are not S3's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.procs import Measurement, capture, last_line, run_measured, stop
from benchmarks.results import FigureTable, ScenarioResult
from benchmarks.tools import REPO
from skyhaul.sim.archive import ArchiveSpec, build_archive
from skyhaul.sim.cache import ArchiveCache, default_root
from skyhaul.sim.s3 import SIM_CREDENTIALS, SIM_REGION

__all__ = ["S3Sim", "main", "s3_env", "scenario"]

MIB = 1 << 20
RUN_TIMEOUT_S = 900.0
SIM_START_TIMEOUT_S = 900.0
_SHM = Path("/dev/shm")


@dataclass(frozen=True)
class Dataset:
    """Objects of one size served by one simulator, fetched with ``streams`` at once."""

    name: str
    count: int
    size: int
    streams: int

    @property
    def spec(self) -> ArchiveSpec:
        return ArchiveSpec.exact(self.count, self.size, kind="blob")


@dataclass(frozen=True)
class Case:
    """What one client run fetches: some keys of a dataset, over ``streams`` streams."""

    title: str
    dataset: Dataset
    keys: tuple[str, ...]
    streams: int

    @property
    def total(self) -> int:
        return len(self.keys) * self.dataset.size


@dataclass
class Row:
    """Every run of one client on one case."""

    client: str
    command: str
    runs: list[tuple[Measurement, int]] = field(default_factory=list)
    skipped: str = ""

    def cells(self, case: Case) -> tuple[str, ...]:
        if self.skipped:
            return (self.client, f"skipped: {self.skipped}", "", "", "")
        wall = statistics.median(m.wall for m, _ in self.runs)
        cpu = statistics.median(m.cpu for m, _ in self.runs)
        ok = min(files for _, files in self.runs)
        rate = case.total / MIB / wall
        return (self.client, f"{rate:,.0f}", f"{wall:.2f}", f"{cpu:.2f}", f"{ok}/{len(case.keys)}")


_HEAD = ("client", "MiB/s", "wall s", "CPU s", "files ok")


# --- the server ---------------------------------------------------------------------------


class S3Sim:
    """``skyhaul sim --s3`` serving one dataset, in a child process."""

    def __init__(self, dataset: Dataset, scratch: Path) -> None:
        self.dataset = dataset
        self.archive = build_archive(dataset.spec)
        argv = [
            str(Path(sys.executable).with_name("skyhaul")),
            "sim",
            "--files",
            str(dataset.count),
            "--size",
            str(dataset.size),
            "--s3",
        ]
        self._stderr = (scratch / f"sim-{dataset.name}.err").open("wb")
        self._proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL
        )
        try:
            _, s3_line = _first_lines(self._proc, 2, SIM_START_TIMEOUT_S)
        except BaseException:
            self.close()
            raise
        words = s3_line.split()
        self.endpoint, self.bucket = words[2], words[4]

    def disk_path(self, key: str) -> Path:
        """The simulator's own copy of ``key`` (generation 0)."""
        return ArchiveCache(default_root(), self.archive).directory / "g0" / key

    @property
    def pid(self) -> int:
        """moto's process id (its CPU is measured apart)."""
        return self._proc.pid

    def close(self) -> None:
        stop(self._proc, 30.0)
        self._stderr.close()


def _first_lines(proc: subprocess.Popen[bytes], count: int, timeout: float) -> list[str]:
    assert proc.stdout is not None
    fd, seen = proc.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while seen.count(b"\n") < count:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        more = os.read(fd, 4096) if ready else b""
        if not more:
            raise RuntimeError(f"skyhaul sim --s3 did not start (stdout so far: {seen!r})")
        seen += more
    return seen.decode().splitlines()[:count]


# --- the clients (each a child process) ---------------------------------------------------


def s3_env(sim: S3Sim, scratch: Path) -> dict[str, str]:
    """The environment of a client of ``sim``: its endpoint, keys and bucket, no other AWS
    settings of the harness."""
    config = scratch / "aws-config"
    config.write_text(
        f"[default]\nregion = {SIM_REGION}\ns3 =\n  max_concurrent_requests = 16\n"
        "  multipart_threshold = 64GB\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {
        **env,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
        "AWS_ACCESS_KEY_ID": SIM_CREDENTIALS[0],
        "AWS_SECRET_ACCESS_KEY": SIM_CREDENTIALS[1],
        "AWS_REGION": SIM_REGION,
        "AWS_ENDPOINT_URL_S3": sim.endpoint,
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-credentials"),
        "BENCH_S3_BUCKET": sim.bucket,
    }


def _commands(case: Case, sim: S3Sim, dest: Path, keys_file: Path) -> dict[str, list[str] | str]:
    """Each client's command line, or why it cannot run."""
    python = [sys.executable, "-m", "benchmarks.bench_s3", "fetch"]
    streams = str(case.streams)
    commands: dict[str, list[str] | str] = {
        "(a) skyhaul S3Transport": [*python, "transport", str(keys_file), str(dest), streams],
    }
    aws = shutil.which("aws")
    if aws is None:
        commands["(b) aws CLI"] = "aws is not installed"
    elif len(case.keys) == case.dataset.count:
        commands["(b) aws CLI"] = [
            *(aws, "s3", "cp", f"s3://{sim.bucket}/", str(dest)),
            *("--recursive", "--only-show-errors", "--endpoint-url", sim.endpoint),
        ]
    else:
        key = case.keys[0]
        commands["(b) aws CLI"] = [
            *(aws, "s3", "cp", f"s3://{sim.bucket}/{key}", str(dest / key)),
            *("--only-show-errors", "--endpoint-url", sim.endpoint),
        ]
    commands["(c) boto3 download_file"] = [*python, "boto3", str(keys_file), str(dest), streams]
    commands["(d) skyhaul get"] = [
        str(Path(sys.executable).with_name("skyhaul")),
        *("get", "-i", str(keys_file.with_suffix(".csv")), "-d", str(dest)),
        *("--catalog", f"sqlite:///{dest.parent / 'skyhaul-get.db'}", "--no-progress"),
        *("-j", streams, "--max-per-host", streams, "--segment-size", "64GiB"),
    ]
    return commands


def fetch_transport(bucket: str, keys: list[str], dest: Path, streams: int) -> None:
    """Stream each object with ``S3Transport`` into its file (the child of client (a))."""
    from skyhaul.adapters.s3 import S3Transport

    async def run() -> None:
        transport = S3Transport()  # endpoint and keys from the AWS environment
        gate = asyncio.Semaphore(streams)

        async def one(key: str) -> None:
            async with gate:
                path = dest / key
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    async with transport.open(f"s3://{bucket}/{key}") as body:
                        async for chunk in body.chunks():
                            os.write(fd, chunk)
                finally:
                    os.close(fd)

        try:
            await asyncio.gather(*(one(k) for k in keys))
        finally:
            await transport.close()

    asyncio.run(run())


def fetch_boto3(bucket: str, keys: list[str], dest: Path, streams: int) -> None:
    """``download_file`` each object, ``streams`` at once (the child of client (c))."""
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    client = boto3.client("s3", config=Config(max_pool_connections=streams))
    whole = TransferConfig(multipart_threshold=1 << 40, use_threads=False)

    def one(key: str) -> None:
        path = dest / key
        path.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(path), Config=whole)

    with ThreadPoolExecutor(streams) as pool:
        list(pool.map(one, keys))


# --- one case -----------------------------------------------------------------------------


def run_case(
    case: Case, sim: S3Sim, scratch: Path, repeat: int, say: Callable[[str], None]
) -> list[Row]:
    """Every client on ``case``, ``repeat`` times each (clients interleaved per round)."""
    keys_file = scratch / f"{case.dataset.name}-{len(case.keys)}.keys"
    keys_file.write_text("\n".join(case.keys) + "\n")
    rows_text = [f"s3://{sim.bucket}/{k},{k}" for k in case.keys]  # keys hold no commas
    keys_file.with_suffix(".csv").write_text("url,path\n" + "\n".join(rows_text) + "\n")
    env = s3_env(sim, scratch)
    rows: dict[str, Row] = {}
    for repetition in range(repeat):
        dest = _SHM / f"skyhaul-bench-s3-{os.getpid()}" / "out"
        for client, command in _commands(case, sim, dest, keys_file).items():
            row = rows.setdefault(client, Row(client, ""))
            if isinstance(command, str):
                row.skipped = command
            if row.skipped:  # unavailable, or failed once: not run again
                continue
            shutil.rmtree(dest.parent, ignore_errors=True)
            dest.mkdir(parents=True)
            out, err = scratch / "client.out", scratch / "client.err"
            measured = run_measured(
                command, timeout=RUN_TIMEOUT_S, stdout=out, stderr=err, cwd=REPO, env=env
            )
            files = _files_ok(case, sim, dest)
            shutil.rmtree(dest.parent, ignore_errors=True)
            row.command = " ".join(command)
            if measured.returncode != 0 or files != len(case.keys):
                why = last_line(err.read_text(errors="replace") + out.read_text(errors="replace"))
                row.skipped = f"exit {measured.returncode}, {files} files ok: {why}"
                continue
            row.runs.append((measured, files))
            say(f"  {case.title}: {client} run {repetition + 1}: {measured.wall:.2f} s")
    return list(rows.values())


def _files_ok(case: Case, sim: S3Sim, dest: Path) -> int:
    ok = 0
    for i, key in enumerate(case.keys):
        path = dest / key
        if not path.is_file() or path.stat().st_size != case.dataset.size:
            continue
        if i == 0 and path.read_bytes() != sim.disk_path(key).read_bytes():
            continue
        ok += 1
    return ok


# --- command line -------------------------------------------------------------------------


def _datasets(quick: bool) -> tuple[Dataset, Dataset]:
    if quick:
        return Dataset("large", 2, 64 * MIB, 2), Dataset("small", 50, MIB, 16)
    return Dataset("large", 4, 256 * MIB, 4), Dataset("small", 200, MIB, 16)


def run(quick: bool, repeat: int, scratch: Path) -> list[str]:
    """Run every case; return the Markdown tables."""
    _, aws_version = capture(["aws", "--version"])
    lines = [f"aws CLI: {aws_version or 'not installed'}"]
    for title, rows in measure(quick, repeat, scratch, _say):
        lines += ["", f"### {title}", ""]
        lines += ["| " + " | ".join(_HEAD) + " |", "|---|--:|--:|--:|--:|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def scenario(*, quick: bool, say: Callable[[str], None]) -> ScenarioResult:
    """Run the benchmark for ``make bench`` (scenario s) and return its section."""
    _, aws_version = capture(["aws", "--version"])
    result = ScenarioResult(
        "s",
        "S3 from the simulator's S3: skyhaul get s3:// beside boto3 and the aws CLI",
        "`skyhaul sim --s3` (moto, no fault proxy) in a child process per dataset; every "
        "client a child process signing with the simulator's keys, one GET per object, "
        f"writing to /dev/shm; medians of {1 if quick else 3} runs. (a) skyhaul's "
        "S3Transport alone (no hashing, no catalog), (b) `aws s3 cp` "
        f"({aws_version or 'not installed'}), (c) boto3 `download_file`, (d) `skyhaul get` "
        "of the s3:// URLs (sha256, catalog, promote). moto shares the cores: the figures "
        "compare clients on one server. Measured by benchmarks/bench_s3.py.",
    )
    with tempfile.TemporaryDirectory(prefix="skyhaul-bench-s3-") as scratch:
        measured = measure(quick, 1 if quick else 3, Path(scratch), say)
    result.tables = [FigureTable(f"**{title}**", _HEAD, rows) for title, rows in measured]
    return result


def measure(
    quick: bool, repeat: int, scratch: Path, say: Callable[[str], None]
) -> list[tuple[str, tuple[tuple[str, ...], ...]]]:
    """Run every case; return each case's title and its rows of cells."""
    measured: list[tuple[str, tuple[tuple[str, ...], ...]]] = []
    for dataset in _datasets(quick):
        say(f"starting skyhaul sim --s3 with {dataset.count} x {dataset.size // MIB} MiB")
        sim = S3Sim(dataset, scratch)
        try:
            keys = tuple(f.path for f in sim.archive.files)
            cases = [
                Case(
                    f"{dataset.count} x {dataset.size // MIB} MiB, {dataset.streams} streams",
                    dataset,
                    keys,
                    dataset.streams,
                )
            ]
            if dataset.name == "large":
                one = f"1 x {dataset.size // MIB} MiB, 1 stream (obstore vs boto3)"
                cases.append(Case(one, dataset, keys[:1], 1))
            for case in cases:
                rows = run_case(case, sim, scratch, repeat, say)
                measured.append((case.title, tuple(row.cells(case) for row in rows)))
        finally:
            sim.close()
    return measured


def main(argv: list[str] | None = None) -> None:
    """Command line: run the benchmark (or, as a child, one fetch)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["fetch"]:
        client, keys_file, dest, streams = args[1:5]
        keys = Path(keys_file).read_text().split()
        fetch = fetch_transport if client == "transport" else fetch_boto3
        fetch(os.environ["BENCH_S3_BUCKET"], keys, Path(dest), int(streams))
        # Done and written: leave without finalizing the interpreter, where obstore's
        # tokio threads can race it and abort (pyo3-async-runtimes, seen here 1 run in 8
        # under asyncio.run).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller datasets, one run each")
    parser.add_argument("--repeat", type=int, default=None, help="runs per client (3)")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory")
    options = parser.parse_args(args)
    repeat = options.repeat or (1 if options.quick else 3)
    with tempfile.TemporaryDirectory(prefix="skyhaul-bench-s3-") as default:
        scratch = options.workdir or Path(default)
        scratch.mkdir(parents=True, exist_ok=True)
        print("\n".join(run(options.quick, repeat, scratch)), flush=True)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
