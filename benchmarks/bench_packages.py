"""Raw data packages (p): ``skyhaul files scan`` + ``pipeline run`` against tar, tee, sha256sum.

    python -m benchmarks.bench_packages [--quick] [--repeat N]

Issue 16: "20,000 raw files of mixed sizes (5 GiB) packaged and moved to a second local
location and to S3, against the shell baseline ``tar -c | tee >(sha256sum) > dest &&
sha256sum`` members, measured in one run: target at least 0.8x of the baseline's
throughput, with every member's checksum verified at the destination (the baseline does
less)."

Rules:
- The dataset is made once per run (``write_dataset``): ``FILES`` files (``--quick``:
  ``QUICK_FILES``) whose sizes are log-uniform between ``LO`` and ``HI`` (seeded), scaled
  so they sum to ``TOTAL`` (``QUICK_TOTAL``), in ``{obs_unit}/{module}/`` directories
  (``UNITS`` x ``MODULES`` groups: one package each). Contents are slices of one seeded
  random block with the file's index in front, so no two files are alike. It lives in
  /dev/shm; the destinations too when the memory left allows it (``destination_root``),
  else under the repository's git-ignored ``bench-data/``.
- Two destinations: a local directory, and S3 on the simulator's moto (``skyhaul sim
  --s3`` as a child, ``bench_s3.S3Sim``; a fresh prefix per run, emptied afterwards).
- skyhaul, from nothing each run: a fresh SQLite catalog, two sites, SOURCE (the dataset,
  ``file://``), BUFFER (``file://``, the second local location) and LONG_TERM_ARCHIVE (the
  destination); then, timed, ``skyhaul files scan SOURCE --pattern PATTERN`` (every
  file's sha256 computed) and ``skyhaul pipeline run --once --retention 0s --stages
  packaging,transfer,verify,archive`` (each tar written at the source while its members
  are hashed, moved to the buffer, sent to the archive, re-read there with every member's
  sha256 checked against the catalog, its JSON sidecar written). Checked afterwards: every
  package ARCHIVED and every file a member of one.
- The baseline, one ``bash`` process tree per run (``baseline_script``): for each group,
  ``tar -c -C SRC GROUP | tee >(sha256sum > BUF/NAME.tar.sha256) > BUF/NAME.tar``, then
  ``sha256sum`` of the group's files at the source, then the tar copied to the archive:
  ``cp`` for the local one; for S3 (no aws CLI here) boto3's ``upload_file`` of every tar
  in one Python child at the end (``upload``: multipart, its default 10 threads).
- skyhaul and the baseline alternate within a repetition (skyhaul first in even ones);
  destinations are emptied between runs. Throughput is the dataset's bytes over wall
  time (skyhaul: scan + pipeline); CPU is the process tree's (moto's own besides, for S3).
- Target, per destination: skyhaul's median throughput at least ``TARGET`` of the
  baseline's, every run complete.
"""

from __future__ import annotations

import math
import os
import random
import shlex
import shutil
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.procs import Measurement, cpu_seconds, last_line, run_measured
from benchmarks.results import FigureTable, ScenarioResult, TargetCheck
from benchmarks.tools import REPO, SKYHAUL, Tool

__all__ = [
    "FILES",
    "TARGET",
    "TOTAL",
    "Dataset",
    "DestRun",
    "baseline_script",
    "destination_root",
    "file_sizes",
    "group_name",
    "layout",
    "main",
    "scenario",
    "targets",
]

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
FILES, TOTAL = 20_000, 5 * GiB
QUICK_FILES, QUICK_TOTAL = 2_000, 500 * MiB
LO, HI = 4 * KiB, 4 * MiB
UNITS, MODULES = 20, 5
SEED = 16
TARGET = 0.8
TIMEOUT_S = 3600.0
PATTERN = "{obs_unit}/{instrument_module}/**"
STAGES = "packaging,transfer,verify,archive"
_BLOCK = 64 * MiB
_SHM = Path("/dev/shm")
_MARGIN = 4 * GiB
BASELINE = "baseline"
CLIENTS = (SKYHAUL, BASELINE)
DESTINATIONS = ("local", "s3")


def file_sizes(count: int, total: int, lo: int, hi: int, seed: int) -> list[int]:
    """``count`` sizes drawn log-uniform in ``[lo, hi]``, scaled to sum to ``total`` exactly.

    The scaling keeps the spread (``hi / lo``) and moves the range; every size is at
    least 1 byte. The rounding's remainder goes to the largest file.
    """
    if count < 1 or total < count:
        raise ValueError(f"need at least one byte for each of {count} files, not {total}")
    rng = random.Random(seed)
    drawn = [math.exp(rng.uniform(math.log(lo), math.log(hi))) for _ in range(count)]
    scale = total / sum(drawn)
    sizes = [max(1, int(size * scale)) for size in drawn]
    largest = max(range(count), key=sizes.__getitem__)
    sizes[largest] += total - sum(sizes)
    return sizes


def group_name(unit: int, module: int) -> str:
    """The directory of one observation unit's module: ``obs-003/mod-1``."""
    return f"obs-{unit:03d}/mod-{module}"


def layout(count: int, units: int, modules: int) -> list[str]:
    """Each file's path: file ``i`` goes to group ``i % (units * modules)``, in turn."""
    groups = units * modules
    paths = []
    for index in range(count):
        unit, module = divmod(index % groups, modules)
        paths.append(f"{group_name(unit, module)}/raw_{index:06d}.dat")
    return paths


@dataclass(frozen=True, slots=True)
class Dataset:
    """The files made for one run: where, how many, how many bytes, in which groups."""

    root: Path
    files: int
    total: int
    groups: tuple[str, ...]


def write_dataset(root: Path, *, files: int, total: int, seed: int = SEED) -> Dataset:
    """Write the dataset under ``root`` (see the module's rules); return what it holds."""
    sizes = file_sizes(files, total, LO, HI, seed)
    units = max(1, min(UNITS, files // (MODULES * 10)))
    paths = layout(files, units, MODULES)
    block = random.Random(seed).randbytes(_BLOCK)
    for index, (path, size) in enumerate(zip(paths, sizes, strict=True)):
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        head = index.to_bytes(8, "big")
        start = (index * 104_729) % max(1, _BLOCK - size)
        with target.open("wb") as out:
            out.write(head[:size])
            rest = size - len(head[:size])
            while rest > 0:  # a file larger than the block wraps around it
                piece = block[start : start + rest] or block[:rest]
                out.write(piece)
                rest -= len(piece)
                start = 0
    groups = tuple(dict.fromkeys(path.rsplit("/", 1)[0] for path in paths))
    return Dataset(root, files, total, groups)


def destination_root(available: int, needed: int, *, shm: Path, disk: Path) -> Path:
    """``shm`` when ``needed`` bytes (and a margin) fit in the memory ``available``, else
    ``disk``: the buffer and a local archive each hold the dataset once more."""
    return shm if available >= needed + _MARGIN else disk


def _mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * KiB
    return 0


def baseline_script(groups: Sequence[str], source: Path, buffer: Path, archive: Path | None) -> str:
    """The shell baseline for ``groups``: per group, ``tar | tee >(sha256sum)`` into the
    buffer, ``sha256sum`` of its members at the source, and ``cp`` of the tar to
    ``archive`` (``None``: the tars stay in the buffer for an upload afterwards)."""
    q = shlex.quote
    lines = ["set -euo pipefail", f"mkdir -p {q(str(buffer))}"]
    if archive is not None:
        lines.append(f"mkdir -p {q(str(archive))}")
    for group in groups:
        name = group.replace("/", "_")
        tar = q(str(buffer / f"{name}.tar"))
        lines.append(
            f"tar -c -C {q(str(source))} {q(group)} "
            f"| tee >(sha256sum > {q(str(buffer / f'{name}.tar.sha256'))}) > {tar}"
        )
        lines.append(
            f"(cd {q(str(source))} && find {q(group)} -type f -print0 | sort -z "
            f"| xargs -0 sha256sum) > {q(str(buffer / f'{name}.members.sha256'))}"
        )
        if archive is not None:
            lines.append(f"cp {tar} {q(str(archive / f'{name}.tar'))}")
    lines.append("wait")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class DestRun:
    """One run of one client to one destination.

    ``steps``: wall and CPU of each timed step (skyhaul: scan, pipeline; baseline: shell,
    upload); ``complete``: every package archived (skyhaul) or every tar there
    (baseline); ``server_cpu``: moto's CPU seconds during the run (S3 only).
    """

    client: str
    destination: str
    steps: Mapping[str, Measurement]
    complete: bool
    server_cpu: float | None = None

    @property
    def wall(self) -> float:
        return sum(m.wall for m in self.steps.values())

    @property
    def cpu(self) -> float:
        return sum(m.cpu for m in self.steps.values())

    @property
    def ok(self) -> bool:
        return self.complete and all(
            m.returncode == 0 and not m.timed_out for m in self.steps.values()
        )


def _median(runs: Sequence[DestRun], client: str, destination: str, of: str) -> float | None:
    values = [getattr(r, of) for r in runs if r.client == client and r.destination == destination]
    return statistics.median(values) if values else None


def targets(runs: Sequence[DestRun], total: int) -> list[TargetCheck]:
    """Per destination: skyhaul's throughput (median wall) at least ``TARGET`` of the
    baseline's, and every skyhaul run complete."""
    checks = []
    for destination in DESTINATIONS:
        text = (
            f"{destination}: at least {TARGET}x the baseline's throughput, every member "
            "verified at the destination"
        )
        ours = _median(runs, SKYHAUL, destination, "wall")
        theirs = _median(runs, BASELINE, destination, "wall")
        if ours is None or theirs is None:
            checks.append(TargetCheck(text, "n/a", "a client did not run"))
            continue
        mine = [r for r in runs if r.client == SKYHAUL and r.destination == destination]
        whole = all(r.ok for r in mine)
        ratio = theirs / ours
        detail = (
            f"skyhaul {total / MiB / ours:,.0f} MiB/s / baseline {total / MiB / theirs:,.0f} "
            f"MiB/s = {ratio:.2f} (need ≥ {TARGET})"
        )
        if not whole:
            detail += "; a skyhaul run did not archive everything"
        checks.append(TargetCheck(text, "met" if ratio >= TARGET and whole else "missed", detail))
    return checks


# --- running ------------------------------------------------------------------------------


class _Runner:
    """Runs each client to one destination, from nothing, and empties it afterwards."""

    def __init__(self, skyhaul: Tool, data: Dataset, dest: Path, work: Path) -> None:
        assert skyhaul.path is not None
        self._skyhaul = skyhaul.path
        self._skyhaul_env = dict(skyhaul.env)
        self.data = data
        self.dest = dest
        self.work = work
        self.s3_env: dict[str, str] = {}
        self.bucket = ""
        self.server_pid: int | None = None
        self._runs = 0

    def _env(self, scratch: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SKYHAUL_"))}
        catalog = f"sqlite:///{scratch / 'catalog.db'}"
        return {**env, **self._skyhaul_env, **self.s3_env, "SKYHAUL_CATALOG": catalog}

    def _prefix(self) -> str:
        self._runs += 1
        return f"run-{self._runs}"

    def run(self, client: str, destination: str, say: Callable[[str], None]) -> DestRun:
        scratch = self.work / f"{client}-{destination}"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        prefix = self._prefix()
        before = None if self.server_pid is None else cpu_seconds(self.server_pid)
        try:
            if client == SKYHAUL:
                steps, complete = self._skyhaul_run(destination, prefix, scratch)
            else:
                steps, complete = self._baseline_run(destination, prefix, scratch)
        finally:
            self._empty(destination, prefix)
        server = None
        if before is not None and destination == "s3" and self.server_pid is not None:
            server = cpu_seconds(self.server_pid) - before
        run = DestRun(client, destination, steps, complete, server)
        shown = ", ".join(f"{k} {m.wall:.1f} s (exit {m.returncode})" for k, m in steps.items())
        say(f"[p] {destination} {client}: {shown}; {'complete' if complete else 'INCOMPLETE'}")
        return run

    def archive_url(self, destination: str, prefix: str) -> str:
        if destination == "s3":
            return f"s3://{self.bucket}/{prefix}"
        return (self.dest / "archive").as_uri()

    def _skyhaul_run(
        self, destination: str, prefix: str, scratch: Path
    ) -> tuple[dict[str, Measurement], bool]:
        env = self._env(scratch)
        setup = [
            ["site", "add", "obs"],
            ["site", "add", "arch"],
            ["location", "add", "obs/source", "--type", "source", "--url", self.data.root.as_uri()],
            [
                *("location", "add", "obs/buffer", "--type", "buffer"),
                *("--url", (self.dest / "buffer").as_uri()),
            ],
            [
                *("location", "add", "arch/lta", "--type", "long_term_archive"),
                *("--url", self.archive_url(destination, prefix)),
            ],
        ]
        (self.dest / "buffer").mkdir(parents=True, exist_ok=True)
        if destination == "local":
            (self.dest / "archive").mkdir(parents=True, exist_ok=True)
        for step, args in enumerate(setup):
            measured = self._measure([self._skyhaul, *args], scratch, f"setup{step}", env)
            if measured.returncode != 0:
                raise RuntimeError(f"skyhaul {' '.join(args)}: {self._tail(scratch, step)}")
        steps = {
            "scan": self._measure([self._skyhaul, *skyhaul_scan()], scratch, "scan", env),
        }
        if steps["scan"].returncode == 0:
            steps["pipeline"] = self._measure(
                [self._skyhaul, *skyhaul_pipeline()], scratch, "pipeline", env
            )
        return steps, self._archived(scratch)

    def _archived(self, scratch: Path) -> bool:
        from skyhaul.adapters.catalog import open_catalog
        from skyhaul.core.packages import PackageState

        with open_catalog(f"sqlite:///{scratch / 'catalog.db'}") as catalog:
            packages = catalog.packages()
            members = sum(len(p.members) for p in packages)
            archived = all(p.state is PackageState.ARCHIVED for p in packages)
        return bool(packages) and archived and members == self.data.files

    def _baseline_run(
        self, destination: str, prefix: str, scratch: Path
    ) -> tuple[dict[str, Measurement], bool]:
        buffer = self.dest / "buffer"
        archive = self.dest / "archive" if destination == "local" else None
        script = scratch / "baseline.sh"
        script.write_text(baseline_script(self.data.groups, self.data.root, buffer, archive))
        env = self._env(scratch)
        steps = {"shell": self._measure(["bash", str(script)], scratch, "shell", env)}
        if archive is not None:
            there = len(list(archive.glob("*.tar")))
        else:
            upload = [sys.executable, "-m", "benchmarks.bench_packages", "upload"]
            argv = [*upload, str(buffer), self.bucket, prefix]
            steps["upload"] = self._measure(argv, scratch, "upload", env)
            there = len(_s3_keys(self.s3_env, self.bucket, prefix))
        return steps, there == len(self.data.groups)

    def _measure(
        self, argv: list[str], scratch: Path, name: str, env: dict[str, str]
    ) -> Measurement:
        return run_measured(
            argv,
            timeout=TIMEOUT_S,
            stdout=scratch / f"{name}.out",
            stderr=scratch / f"{name}.err",
            cwd=REPO,
            env=env,
        )

    def _tail(self, scratch: Path, step: int) -> str:
        return last_line((scratch / f"setup{step}.err").read_text(errors="replace"))

    def _empty(self, destination: str, prefix: str) -> None:
        for name in ("buffer", "archive"):
            shutil.rmtree(self.dest / name, ignore_errors=True)
        shutil.rmtree(self.data.root / ".skyhaul", ignore_errors=True)
        if destination == "s3":
            _s3_delete(self.s3_env, self.bucket, prefix)


def skyhaul_scan() -> list[str]:
    """skyhaul's scan of the source (after the setup commands)."""
    return ["files", "scan", "obs/source", "--pattern", PATTERN, "--json"]


def skyhaul_pipeline() -> list[str]:
    """skyhaul's pipeline run, every stage but deletion, until nothing is left."""
    return ["pipeline", "run", "--once", "--retention", "0s", "--stages", STAGES, "--json"]


def _s3_client(env: Mapping[str, str]) -> object:
    """A boto3 client with the endpoint and keys of ``env`` (the simulator's)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL_S3"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )


def _s3_keys(env: Mapping[str, str], bucket: str, prefix: str) -> list[str]:
    client: object = _s3_client(env)
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(  # type: ignore[attr-defined]
        Bucket=bucket, Prefix=prefix + "/"
    ):
        keys.extend(
            item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(".tar")
        )
    return keys


def _s3_delete(env: Mapping[str, str], bucket: str, prefix: str) -> None:
    client: object = _s3_client(env)
    paginator = client.get_paginator("list_objects_v2")  # type: ignore[attr-defined]
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix + "/"):
        objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if objects:
            client.delete_objects(Bucket=bucket, Delete={"Objects": objects})  # type: ignore[attr-defined]


def upload(buffer: Path, bucket: str, prefix: str) -> None:
    """The baseline's S3 step: boto3 ``upload_file`` of every tar, one after another."""
    client: object = _s3_client(os.environ)
    for tar in sorted(buffer.glob("*.tar")):
        client.upload_file(str(tar), bucket, f"{prefix}/{tar.name}")  # type: ignore[attr-defined]


# --- the scenario -------------------------------------------------------------------------


def scenario(
    *,
    quick: bool,
    repeat: int,
    work: Path,
    root: Path,
    tools: Mapping[str, Tool],
    base: str | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> ScenarioResult:
    """Make the dataset, then time skyhaul and the baseline to each destination (p).

    Parameters
    ----------
    quick : bool
        ``QUICK_FILES`` files, ``QUICK_TOTAL`` bytes instead of 20,000 and 5 GiB.
    repeat : int
        Timed runs per client and destination.
    work : Path
        Scratch space (catalogs, logs); removed by the caller.
    root : Path
        Unused (the dataset goes to /dev/shm).
    tools : mapping
        Available tools by name (skyhaul's current tree among them).
    base : str, optional
        Not compared here.
    say : callable
        Receives progress lines.
    """
    files, total = (QUICK_FILES, QUICK_TOTAL) if quick else (FILES, TOTAL)
    result = ScenarioResult(
        "p",
        f"{files:,} raw files ({total / GiB:.2g} GiB) packaged to a local archive and to S3, "
        "against tar | tee >(sha256sum) and sha256sum of the members",
        _DESCRIPTION.format(target=TARGET),
    )
    skyhaul = tools.get(SKYHAUL)
    if skyhaul is None or skyhaul.path is None:
        result.skipped["all clients"] = "skyhaul unavailable"
        return result
    from benchmarks.bench_s3 import Dataset as S3Dataset
    from benchmarks.bench_s3 import S3Sim, s3_env

    base_dir = _SHM if _SHM.is_dir() else work
    data_root = base_dir / f"skyhaul-bench-packages-{os.getpid()}"
    dest = destination_root(
        _mem_available() - total,
        2 * total,
        shm=data_root.with_name(data_root.name + "-dest"),
        disk=REPO / "bench-data" / "packages-dest",
    )
    work.mkdir(parents=True, exist_ok=True)
    runs: list[DestRun] = []
    try:
        say(f"[p] writing {files:,} files, {total / MiB:,.0f} MiB under {data_root}")
        data = write_dataset(data_root / "source", files=files, total=total)
        say(f"[p] destinations under {dest}")
        runner = _Runner(skyhaul, data, dest, work)
        sim = S3Sim(S3Dataset("packages", 1, 64 * KiB, 1), work)
        try:
            runner.s3_env = s3_env(sim, work)
            runner.bucket = sim.bucket
            runner.server_pid = sim.pid
            for destination in DESTINATIONS:
                for repetition in range(repeat):
                    order = CLIENTS if repetition % 2 == 0 else CLIENTS[::-1]
                    for client in order:
                        runs.append(runner.run(client, destination, say))
        finally:
            sim.close()
    finally:
        shutil.rmtree(data_root, ignore_errors=True)
        shutil.rmtree(dest, ignore_errors=True)
    result.tables = [_table(runs, files, total)]
    result.targets = targets(runs, total)
    result.commands = [
        "skyhaul " + shlex.join(skyhaul_scan()),
        "skyhaul " + shlex.join(skyhaul_pipeline()),
        "bash, per group: " + _one_group(),
        "S3 baseline: the same without cp, then boto3 upload_file of each tar",
    ]
    return result


def _one_group() -> str:
    script = baseline_script(["U/M"], Path("SRC"), Path("BUF"), Path("LTA"))
    return "; ".join(line for line in script.splitlines() if "U/M" in line or "cp " in line)


_DESCRIPTION = (
    "A seeded dataset in /dev/shm (sizes log-uniform, scaled to the total; one "
    "{{obs_unit}}/{{module}} directory per package), moved by skyhaul (`files scan` with "
    "every file's sha256, then `pipeline run --once --stages packaging,transfer,verify,"
    "archive`: the tar written at the source while hashing, moved to a BUFFER location, sent "
    "to the LONG_TERM_ARCHIVE, re-read there with every member's sha256 checked against the "
    "catalog, a JSON sidecar written, every step recorded in a fresh SQLite catalog) and by "
    "the shell baseline (per group `tar -c | tee >(sha256sum) > BUF/x.tar`, `sha256sum` of "
    "the members at the source, `cp` to the archive; to S3 boto3 `upload_file` of each tar "
    "afterwards, as the aws CLI is not installed). The archive is a local directory, then "
    "S3 on the simulator's moto (a child process; its CPU shown apart). Each from nothing, "
    "alternating within a repetition; throughput is the dataset's bytes over wall time "
    "(skyhaul: scan + pipeline). Target: at least {target}x the baseline's throughput. "
    "Measured by benchmarks/bench_packages.py."
)


def _table(runs: Sequence[DestRun], files: int, total: int) -> FigureTable:
    rows = []
    for destination in DESTINATIONS:
        base = _median(runs, BASELINE, destination, "wall")
        for client in CLIENTS:
            mine = [r for r in runs if r.client == client and r.destination == destination]
            if not mine:
                continue
            wall = statistics.median(r.wall for r in mine)
            steps = " + ".join(
                f"{name} {statistics.median(r.steps[name].wall for r in mine):.1f}"
                for name in mine[0].steps
                if all(name in r.steps for r in mine)
            )
            server = [r.server_cpu for r in mine if r.server_cpu is not None]
            rows.append(
                (
                    client,
                    destination,
                    f"{total / MiB / wall:,.0f}",
                    f"{wall:.1f}",
                    steps,
                    f"{statistics.median(r.cpu for r in mine):.1f}",
                    f"{statistics.median(server):.1f}" if server else "",
                    f"{base / wall:.2f}" if base else "",
                    "yes" if all(r.ok for r in mine) else "**no**",
                )
            )
    head = (
        "client",
        "archive",
        "MiB/s",
        "wall s",
        "steps, wall s",
        "CPU s",
        "moto CPU s",
        "throughput ÷ baseline's",
        "all archived",
    )
    return FigureTable(f"{files:,} files, {total / MiB:,.0f} MiB:", head, tuple(rows))


def main(argv: list[str] | None = None) -> None:
    """Command line: run (p) alone and print its section (see the module docstring);
    ``upload BUFFER BUCKET PREFIX`` is the baseline's S3 step."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["upload"]:
        buffer, bucket, prefix = args[1:4]
        upload(Path(buffer), bucket, prefix)
        return
    from benchmarks import standalone

    standalone.run_alone(args, __doc__, "skyhaul-bench-packages-", scenario)


if __name__ == "__main__":
    main()
