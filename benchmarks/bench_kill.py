"""Kill cost (k): SIGKILL at about half of 4 x 256 MiB, rerun, and count what was sent twice.

    python -m benchmarks.bench_kill [--quick] [--repeat N] [--compare REV]

Issue 13 (section 5): "SIGKILL at about half of 4 x 256 MiB from nginx (``-j 4``, 8 MiB
segments) then rerun: skyhaul re-fetched 59 MiB where aria2c (``-j4 -x4 -s4``, killed at
the same point, resumed with ``-c``) re-fetched 28 MiB. A kill must cost no more than
aria2c's, and at most one segment per file in flight."

Rules:
- nginx serves (a)'s files (4 x 256 MiB; ``--quick``: 4 x 64 MiB) from ``/paced/``, at
  ``PACED_RATE`` bytes/s per request, so that "half" can be caught however fast the
  machine; its access log gives the body bytes sent by every request, cut short or not.
- Each client starts with empty output and scratch directories. The harness polls the
  bytes on disk under the output directory every ``POLL_S`` (allocated blocks, so a
  pre-sized ``.part`` file or aria2c's sparse file counts only what was written) and, as
  soon as half the dataset is there, SIGKILLs the client's process group: no chance to
  save anything, as in a crash.
- Then the rerun, timed, to completion: skyhaul with the same command (same catalog and
  output directory); aria2c with the same command plus ``-c``. Its files are checked
  (sha256) and skyhaul's catalog read.
- aria2c runs twice: as it comes, and with ``--auto-save-interval=1``. It writes what it
  has to its ``.aria2`` control file only every 60 s by default, so killed in the first
  minute it keeps nothing and fetches everything again; saving every second is what a
  user who expects kills would set, and the target is stated against the better of the
  two.
- The re-fetch is what the server sent in both runs beyond the dataset's size: the bytes
  it had to send twice. It includes what was in flight when the kill struck (socket
  buffers, which the pacing keeps small), as a user's bill would. nginx's log names each
  request's file, so the re-fetch of each file is known too, and the worst one is kept.
- With ``--compare``, skyhaul at the base revision runs right after skyhaul. Clients
  alternate within each repetition.

Targets: skyhaul's re-fetch (median) no more than aria2c's (its better setting), and at
most one segment (8 MiB) for any file (the median of each run's worst file).
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks import peers
from benchmarks.client_runs import child_env, fresh_job, run_once, shown, stderr_tail
from benchmarks.compare import run_order, with_base_clients
from benchmarks.datasets import Dataset, count_ok, offer
from benchmarks.peers import Client, Job
from benchmarks.procs import allocated_bytes, run_killed_when
from benchmarks.results import FigureTable, ScenarioResult, TargetCheck
from benchmarks.servers import PACED_RATE, NginxServer
from benchmarks.tools import REPO, SKYHAUL, Tool
from benchmarks.transfer_runs import runnable_clients

__all__ = [
    "KillRun",
    "base_ratio",
    "pairs",
    "refetched",
    "scenario",
    "targets",
    "worst_file",
]

MiB = 1 << 20
FILES = 4
SEGMENT = 8 * MiB
POLL_S = 0.01
#: Kill when this share of the dataset is on disk.
KILL_AT = 0.5
#: nginx logs a request cut short once it notices the closed connection.
LOG_SETTLE_S = 0.5
TIMEOUT_S = 600.0
ARIA2C_FLAGS = ("-j4", "-x4", "-s4")
#: aria2c saves what it has (its ``.aria2`` control file) every 60 s by default, so a
#: kill in the first minute loses it all; every second is the setting for kills.
ARIA2C_SAVING = "--auto-save-interval=1"


@dataclass(frozen=True, slots=True)
class KillRun:
    """One client killed part-way, then run again to completion.

    Parameters
    ----------
    tool, name : str
        The client's key and label.
    repetition : int
        0-based.
    total : int
        The dataset's bytes.
    on_disk : int
        Bytes on disk under the output directory when the kill was sent.
    first_sent, rerun_sent : int
        Body bytes the server sent in the killed run and in the rerun.
    killed : bool
        The first run was killed (not finished before half was seen).
    first_code, rerun_code : int
        Exit codes (``-9``: killed).
    rerun_wall : float
        Seconds of the rerun.
    files_ok : int
        Files right (size, sha256) after the rerun.
    catalog_downloaded : int or None
        Files skyhaul's catalog holds as DOWNLOADED after the rerun.
    stderr_tail : str
        The rerun's last lines of stderr.
    worst_file : int or None
        The largest re-fetch of one file (None: not known; the whole re-fetch counts).
    """

    tool: str
    name: str
    repetition: int
    total: int
    on_disk: int
    first_sent: int
    rerun_sent: int
    killed: bool
    first_code: int
    rerun_code: int
    rerun_wall: float
    files_ok: int
    catalog_downloaded: int | None = None
    stderr_tail: str = ""
    worst_file: int | None = None

    @property
    def refetched(self) -> int:
        """What the server sent twice (see ``refetched``)."""
        return refetched(self.first_sent, self.rerun_sent, self.total)

    @property
    def worst_file_refetched(self) -> int:
        """The largest re-fetch of one file (the whole re-fetch when not known)."""
        return self.refetched if self.worst_file is None else self.worst_file


def refetched(first_sent: int, rerun_sent: int, total: int) -> int:
    """Bytes sent in a killed run and its rerun beyond the dataset's size (never below 0)."""
    return max(0, first_sent + rerun_sent - total)


def worst_file(first: Mapping[str, int], rerun: Mapping[str, int], sizes: Mapping[str, int]) -> int:
    """The largest re-fetch of one file: what the server sent for it in both runs beyond
    its size (``first`` and ``rerun`` by URL path; ``sizes`` by URL path)."""
    return max(
        (refetched(first.get(path, 0), rerun.get(path, 0), size) for path, size in sizes.items()),
        default=0,
    )


def pairs(base: str | None) -> tuple[tuple[Client, Client], ...]:
    """Each client killed, and the command that resumes it: skyhaul (and its base
    revision) the same again; aria2c with ``-c``, as it comes and saving its control file
    every second (``ARIA2C_SAVING``)."""
    sky = peers.skyhaul(FILES, "--segment-size", f"{SEGMENT // MiB}MiB")
    made = [(client, client) for client in with_base_clients((sky,), base)]
    for extra, variant in (((), ""), ((ARIA2C_SAVING,), ARIA2C_SAVING.lstrip("-"))):
        flags = (*ARIA2C_FLAGS, *extra)
        first, again = peers.aria2c(*flags), peers.aria2c(*flags, "-c")
        made.append((replace(first, variant=variant), replace(again, variant=variant)))
    return tuple(made)


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
    """Kill each client at about half, rerun it, and count the re-fetch (scenario k).

    Parameters
    ----------
    quick : bool
        4 x 64 MiB instead of 4 x 256 MiB.
    repeat : int
        Kill-and-rerun pairs per client.
    work : Path
        Scratch space (lists, outputs, catalogs); removed at the end.
    root : Path
        nginx's document root, where (a)'s files are (generated if missing).
    tools : mapping
        Available tools by name (nginx among them; ``skyhaul@<commit>`` with ``--compare``).
    base : str, optional
        The base revision's tool name, with ``--compare``.
    say : callable
        Receives progress lines.
    """
    size = (64 if quick else 256) * MiB
    result = ScenarioResult(
        "k",
        f"kill at about half of {FILES} x {size // MiB} MiB, then rerun: bytes sent twice",
        _DESCRIPTION.format(rate=PACED_RATE // MiB, poll=int(POLL_S * 1000)),
        file_size=size,
    )
    nginx = tools.get("nginx")
    if nginx is None or nginx.path is None:
        result.skipped["all clients"] = "no server: nginx unavailable"
        return result
    chosen = pairs(base)
    runnable = runnable_clients(tuple(f for f, _ in chosen), tools, result.skipped)
    rerun_of = {first.key: again for first, again in chosen}
    runs: list[KillRun] = []
    commands: dict[str, list[str]] = {}
    with NginxServer(nginx.path, root) as server:
        say(
            f"[k] preparing {FILES} x {size:,} bytes, served at {PACED_RATE // MiB} MiB/s a request"
        )
        offered = offer(
            Dataset("large", FILES, size),
            root,
            work / "lists",
            server.base_url,
            checksums=True,
            url_location="paced",
        )
        for repetition in range(repeat):
            for client in run_order(runnable, repetition):
                tool = tools[client.tool]
                job = fresh_job(offered, work / client.dirname)
                run = _kill_and_rerun(client, rerun_of[client.key], tool, job, repetition, server)
                runs.append(run)
                commands[client.key] = _commands(client, rerun_of[client.key], tool, job)
                say(f"[k] {repetition + 1}/{repeat} {_line(run)}")
                shutil.rmtree(job.out_dir, ignore_errors=True)
    result.tables = [_table(runs)]
    result.targets = targets(runs)
    if base is not None:
        result.extra.update(base_ratio(runs, base))
    result.commands = [line for client in runnable for line in commands.get(client.key, [])]
    return result


_DESCRIPTION = (
    "What a kill costs: each client fetches the files from nginx at {rate} MiB/s per "
    "request (limit_rate, so that half can be caught), is SIGKILLed when half the bytes "
    "are on disk under its output directory (polled every {poll} ms), then run again to "
    "completion (skyhaul: the same command; aria2c: the same with -c; aria2c also with "
    "--auto-save-interval=1, since by default it saves its progress every 60 s and a kill "
    "before then loses it all). Re-fetched: the "
    "body bytes nginx sent in both runs beyond the dataset's size (its access log), i.e. "
    "sent twice, in-flight bytes at the kill included; the worst file is the one sent most "
    "beyond its own size (the log names each request's file). Measured by "
    "benchmarks/bench_kill.py."
)


def _kill_and_rerun(
    client: Client, again: Client, tool: Tool, job: Job, repetition: int, server: NginxServer
) -> KillRun:
    """One kill at about half, and the rerun that completes the files."""
    assert tool.path is not None
    total = sum(entry.size for entry in job.offered.entries)
    seen = {"on_disk": 0}

    def half_there() -> bool:
        seen["on_disk"] = allocated_bytes(job.out_dir)
        return seen["on_disk"] >= KILL_AT * total

    mark = server.paced_mark()
    sizes = {
        urlsplit(url).path: entry.size
        for url, entry in zip(job.offered.urls, job.offered.entries, strict=True)
    }
    measured, killed = run_killed_when(
        client.argv(tool.path, job),
        when=half_there,
        poll=POLL_S,
        timeout=TIMEOUT_S,
        stdout=job.scratch / "first-stdout.log",
        stderr=job.scratch / "first-stderr.log",
        cwd=REPO,
        env=child_env(tool.env),
    )
    time.sleep(LOG_SETTLE_S)
    first_sent = server.paced_sent_by_path(mark)
    mark = server.paced_mark()
    rerun = run_once(again, tool, job, repetition, timeout=TIMEOUT_S)
    time.sleep(LOG_SETTLE_S)
    rerun_sent = server.paced_sent_by_path(mark)
    return KillRun(
        tool=client.key,
        name=client.name,
        repetition=repetition,
        total=total,
        on_disk=seen["on_disk"],
        first_sent=sum(first_sent.values()),
        rerun_sent=sum(rerun_sent.values()),
        killed=killed,
        first_code=measured.returncode,
        rerun_code=-1 if rerun.measurement.timed_out else rerun.measurement.returncode,
        rerun_wall=rerun.measurement.wall,
        files_ok=count_ok(job.offered, job.out_dir),
        catalog_downloaded=rerun.catalog_downloaded,
        stderr_tail=rerun.stderr_tail or stderr_tail(job.scratch / "first-stderr.log"),
        worst_file=worst_file(first_sent, rerun_sent, sizes),
    )


def _commands(client: Client, again: Client, tool: Tool, job: Job) -> list[str]:
    assert tool.path is not None
    return [
        f"# {client.name}: killed at about half, then:",
        shown(tool, client.argv(tool.path, job)),
        shown(tool, again.argv(tool.path, job)),
    ]


def _mib(nbytes: float) -> str:
    return f"{nbytes / MiB:,.1f}"


def _line(run: KillRun) -> str:
    state = "killed" if run.killed else f"not killed (exit {run.first_code})"
    return (
        f"{run.name}: {state} with {_mib(run.on_disk)} MiB on disk, sent "
        f"{_mib(run.first_sent)} + {_mib(run.rerun_sent)} MiB, re-fetched "
        f"{_mib(run.refetched)} MiB (worst file {_mib(run.worst_file_refetched)}); "
        f"rerun {run.rerun_wall:.2f} s, {run.files_ok} files ok"
    )


def _table(runs: Sequence[KillRun]) -> FigureTable:
    head = (
        "client",
        "run",
        "on disk at the kill, MiB",
        "sent before the kill, MiB",
        "sent in the rerun, MiB",
        "re-fetched, MiB",
        "worst file, MiB",
        "rerun wall s",
        "files ok",
        "exit codes (kill, rerun)",
    )
    rows = tuple(
        (
            run.name,
            str(run.repetition + 1),
            _mib(run.on_disk),
            _mib(run.first_sent),
            _mib(run.rerun_sent),
            f"**{_mib(run.refetched)}**",
            _mib(run.worst_file_refetched),
            f"{run.rerun_wall:.2f}",
            f"{run.files_ok}/{FILES}",
            f"{run.first_code} {run.rerun_code}",
        )
        for run in runs
    )
    return FigureTable("Each kill and its rerun:", head, rows)


def base_ratio(runs: Sequence[KillRun], base: str) -> dict[str, object]:
    """``--compare``: the current tree's median re-fetch over the base revision's."""
    ours = [r.refetched for r in runs if r.tool == SKYHAUL]
    theirs = [r.refetched for r in runs if r.tool == base]
    if not ours or not theirs:
        return {}
    now, then = statistics.median(ours), statistics.median(theirs)
    ratio = f"{now / then:.2f}" if then else "n/a (the base re-fetched nothing)"
    label = f"re-fetched, current ÷ {base} (medians)"
    return {label: f"{_mib(now)} MiB / {_mib(then)} MiB = {ratio}"}


def targets(runs: Sequence[KillRun]) -> list[TargetCheck]:
    """skyhaul's median re-fetch at most aria2c's (the better of its two settings), and at
    most one segment for any file (the median of each run's worst file); every file right
    after the rerun, in every run."""
    by_tool: dict[str, list[KillRun]] = {}
    for run in runs:
        by_tool.setdefault(run.tool, []).append(run)
    sky = by_tool.get(SKYHAUL)
    peers_ran = {k: v for k, v in by_tool.items() if k.split("/")[0] == "aria2c"}
    no_more = "a kill costs no more than aria2c's (re-fetched bytes, median; its better setting)"
    in_flight = (
        f"at most one segment ({SEGMENT // MiB} MiB) per file in flight "
        "(the worst file of each run, median)"
    )
    complete = "every file right (sha256) and DOWNLOADED in the catalog after the rerun"
    if not sky:
        texts = (no_more, in_flight, complete)
        return [TargetCheck(text, "n/a", "skyhaul did not run") for text in texts]
    ours = statistics.median(r.refetched for r in sky)
    unkilled = [r for r in runs if not r.killed]
    caveat = f"; {len(unkilled)} run(s) ended before the kill" if unkilled else ""
    checks = []
    if peers_ran:
        medians = {v[0].name: statistics.median(r.refetched for r in v) for v in peers_ran.values()}
        name, theirs = min(medians.items(), key=lambda item: item[1])
        ratio = f"{ours / theirs:.2f}x" if theirs else "n/a"
        sign = "≤" if ours <= theirs else ">"
        checks.append(
            TargetCheck(
                no_more,
                "met" if ours <= theirs and not unkilled else "missed",
                f"skyhaul {_mib(ours)} MiB {sign} {name} {_mib(theirs)} MiB ({ratio}){caveat}",
            )
        )
    else:
        checks.append(TargetCheck(no_more, "n/a", "aria2c did not run"))
    worst = [r.worst_file_refetched for r in sky]
    each = ", ".join(_mib(w) for w in worst)
    checks.append(
        TargetCheck(
            in_flight,
            "met" if statistics.median(worst) <= SEGMENT and not unkilled else "missed",
            f"worst file {_mib(statistics.median(worst))} MiB (need ≤ {_mib(SEGMENT)} MiB; "
            f"each run: {each}; all files: {_mib(ours)} MiB of {FILES} x {_mib(SEGMENT)}){caveat}",
        )
    )
    right = all(
        r.files_ok == FILES and r.rerun_code == 0 and r.catalog_downloaded == FILES for r in sky
    )
    counts = ", ".join(f"{r.files_ok}/{r.catalog_downloaded}" for r in sky)
    checks.append(
        TargetCheck(complete, "met" if right else "missed", f"files ok/catalog per run: {counts}")
    )
    return checks


def main(argv: list[str] | None = None) -> None:
    """Command line: run (k) alone and print its section (see the module docstring)."""
    from benchmarks import standalone

    standalone.run_alone(argv, __doc__, "skyhaul-bench-kill-", scenario)


if __name__ == "__main__":
    main()
