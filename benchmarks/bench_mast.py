"""MAST import (m): skyhaul against astroquery's own ``download_products``, in one run.

    python -m benchmarks.bench_mast [--quick] [--repeat N]

Issue 14: import one observation of 200 products (2 GiB in all) from the simulator's MAST:
skyhaul (``skyhaul mast import``) against astroquery's ``download_products`` (HTTP), run
against the same simulator in one run: wall time, and what each leaves on disk after a
SIGKILL at half-way and a rerun (corrupt FITS files). Target: at least 3x faster than
astroquery, and 0 corrupt files after the kill; astroquery's result is reported as
measured.

Rules:
- The simulator runs as a child (``simproc.SimProcess``) with ``--mast-profile bench``:
  the observation ``BENCH_OBS`` (200 FITS products, 93 KiB to 132 MiB). ``--quick`` takes
  the default profile's largest observation instead (``QUICK_OBS``: 30 products, 29 of
  them FITS). The products are made on disk (``/_sim/mast/products``) before any timing.
- Two settings: each connection served at ``BANDWIDTH`` (a remote archive gives one
  connection tens of MB/s, not loopback's GB/s; the target is checked here), and loopback
  without a limit (reported as measured: there both are bounded by this machine's CPU, the
  simulator's included).
- Clients: ``skyhaul mast import OBS --source http -j 16`` with a fresh SQLite catalog
  (FITS structure and CHECKSUM/DATASUM verified before promotion, as every import does);
  astroquery's flow (``clients/astroquery_mast.py``) in its own interpreter with its own
  astropy configuration pointing at the simulator: ``query_criteria``,
  ``get_product_list``, ``download_products(cache=False)``. Both start from nothing and
  are timed from process start to exit; they alternate within a repetition.
- Kill runs, at ``BANDWIDTH`` so that half can be caught: each client is SIGKILLed when
  half the bytes are on disk under its output directory, then run again to completion:
  skyhaul with the same command, astroquery with ``cache=True`` (its default: how its
  users rerun it). The rerun meets the server as before, or (``KILL_CASES``) one that
  still advertises ``Accept-Ranges`` but answers a range request with the whole file, as
  a proxy in front of an archive may. Then every product is looked for under the output
  directory by its file name and compared with the simulator's sha256: right, corrupt
  (there under its final name with other bytes) or missing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.procs import Measurement, allocated_bytes, run_killed_when, run_measured
from benchmarks.results import FigureTable, ScenarioResult, TargetCheck
from benchmarks.simproc import SimProcess
from benchmarks.tools import REPO, SKYHAUL, Tool

__all__ = [
    "BANDWIDTH",
    "BENCH_OBS",
    "QUICK_OBS",
    "Census",
    "census",
    "main",
    "scenario",
    "sim_args",
    "targets",
]

MiB = 1 << 20
BENCH_OBS = "jw09999-o001_t001_nircam_clear-f150w"
QUICK_OBS = "jw02727-o002_t062_nircam_clear-f277w"
#: Bytes per second each connection is served at in the setting the target is checked in.
BANDWIDTH = 64 * MiB
CONCURRENCY = 16
KILL_AT = 0.5
POLL_S = 0.01
TIMEOUT_S = 900.0
SPEEDUP = 3.0
_PART = ".skyhaul.part"


@dataclass(frozen=True, slots=True)
class Product:
    """A product as the simulator serves it over HTTP."""

    filename: str
    size: int
    sha256: str
    fits: bool


@dataclass(frozen=True, slots=True)
class Census:
    """What a client left under its output directory, product by product."""

    right: int
    corrupt: int
    corrupt_fits: int
    missing: int


@dataclass(frozen=True, slots=True)
class Timed:
    """One timed run of one client in one setting."""

    client: str
    setting: str
    measurement: Measurement
    census: Census


@dataclass(frozen=True, slots=True)
class Killed:
    """One client killed at about half, then run again to completion (``case``: how the
    server answered the rerun)."""

    client: str
    case: str
    on_disk: int
    killed: bool
    codes: tuple[int, int]
    rerun_wall: float
    census: Census


def sim_args(root: Path, *, quick: bool) -> list[str]:
    """The simulator's options: its MAST products cached under ``root/sim-mast``, and
    ``BENCH_OBS`` among them unless ``quick`` (the default profile has ``QUICK_OBS``)."""
    args = ["--port=0", f"--root={root / 'sim-mast'}", "--files=1", "--size=64KiB"]
    return args if quick else [*args, "--mast-profile=bench"]


def census(products: Sequence[Product], out: Path) -> Census:
    """Check every product under ``out`` (found by its file name, part files ignored)."""
    found: dict[str, Path] = {}
    for root, _, names in os.walk(out):
        for name in names:
            if not name.endswith(_PART):
                found.setdefault(name, Path(root) / name)
    right = corrupt = corrupt_fits = missing = 0
    for product in products:
        path = found.get(product.filename)
        if path is None:
            missing += 1
        elif _sha256(path) == product.sha256:
            right += 1
        else:
            corrupt += 1
            corrupt_fits += product.fits
    return Census(right, corrupt, corrupt_fits, missing)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(8 * MiB):
            digest.update(block)
    return digest.hexdigest()


class _Clients:
    """The two clients' command lines against one simulator."""

    def __init__(self, skyhaul: Tool, server: str, obs_id: str, work: Path) -> None:
        assert skyhaul.path is not None
        self._skyhaul = skyhaul
        self._server = server.rstrip("/")
        self._obs_id = obs_id
        self._work = work
        config = work / "astropy-config"
        (config / "astropy").mkdir(parents=True, exist_ok=True)
        (config / "astropy" / "astroquery.cfg").write_text(f"[mast]\nserver = {self._server}\n")
        self._astropy_env = {"XDG_CONFIG_HOME": str(config)}

    def argv(self, client: str, out: Path, scratch: Path, *, rerun: bool) -> list[str]:
        """The command that runs ``client`` into ``out`` (``rerun``: after a kill)."""
        if client == SKYHAUL:
            assert self._skyhaul.path is not None
            catalog = f"sqlite:///{scratch.resolve() / 'catalog.db'}"
            return [
                self._skyhaul.path,
                "mast",
                "import",
                self._obs_id,
                "--source",
                "http",
                "-d",
                str(out),
                "--mast-url",
                self._server,
                "--catalog",
                catalog,
                "-j",
                str(CONCURRENCY),
                "--no-progress",
                "--json",
            ]
        module = "benchmarks.clients.astroquery_mast"
        cache = ["--cache"] if rerun else []
        return [sys.executable, "-m", module, self._server, self._obs_id, str(out), *cache]

    def env(self, client: str, scratch: Path) -> dict[str, str]:
        """The client's environment (astroquery: its own astropy config and cache)."""
        env = {**os.environ, **self._skyhaul.env}
        if client != SKYHAUL:
            cache = scratch / "astropy-cache"
            (cache / "astropy").mkdir(parents=True, exist_ok=True)
            env.update(self._astropy_env, XDG_CACHE_HOME=str(cache))
            env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), env.get("PYTHONPATH"))))
        return env


CLIENTS = (SKYHAUL, "astroquery")
#: How the server answers the rerun after a kill: as before, or advertising
#: ``Accept-Ranges`` but answering a range request with the whole file (200), as a proxy
#: or a CDN in front of an archive may. Fault knobs of ``/_sim/faults``.
KILL_CASES: dict[str, dict[str, object]] = {
    "ranges honoured": {},
    "Range ignored (200)": {"ignore_range": True},
}


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
    """Time both clients in both settings, then kill each at half and rerun it (m).

    Parameters
    ----------
    quick : bool
        The default profile's 30-product observation instead of the 2 GiB one.
    repeat : int
        Timed runs per client and setting (kill runs: one per client).
    work : Path
        Scratch space; removed at the end.
    root : Path
        Where the simulator's products are cached (``root/sim-mast``).
    tools : mapping
        Available tools by name (skyhaul's current tree among them).
    base : str, optional
        Not compared here.
    say : callable
        Receives progress lines.
    """
    obs_id = QUICK_OBS if quick else BENCH_OBS
    result = ScenarioResult(
        "m",
        f"MAST import of one observation ({obs_id}) against astroquery's download_products",
        _DESCRIPTION.format(bandwidth=BANDWIDTH // MiB, concurrency=CONCURRENCY),
    )
    skyhaul = tools.get(SKYHAUL)
    if skyhaul is None or skyhaul.path is None:
        result.skipped["all clients"] = "skyhaul unavailable"
        return result
    try:
        import astroquery  # noqa: F401  (only whether it is there)
    except ImportError:
        result.skipped["astroquery"] = "not installed (pip install astroquery)"
        return result
    with SimProcess(work / "sim", sim_args(root, quick=quick)) as sim:
        say(f"[m] making the products of {obs_id} on the simulator")
        listed = sim.get(f"_sim/mast/products?obs_id={obs_id}")
        products = [
            Product(
                p["productFilename"],
                p["size"],
                p["http_sha256"],
                p["productFilename"].endswith(".fits"),
            )
            for p in listed
        ]
        total = sum(p.size for p in products)
        clients = _Clients(skyhaul, sim.base_url, obs_id, work)
        timed = _timed_runs(sim, clients, products, repeat, work, say)
        killed = [
            _kill_and_rerun(sim, clients, client, case, products, total, work, say)
            for case in KILL_CASES
            for client in CLIENTS
        ]
    result.tables = [_timed_table(timed, len(products), total), _killed_table(killed, products)]
    result.targets = targets(timed, killed, len(products))
    result.commands = [
        " ".join(clients.argv(c, Path("/OUT"), Path("/SCRATCH"), rerun=r))
        for c in CLIENTS
        for r in (False, True)
    ]
    return result


_DESCRIPTION = (
    "One observation's products from the archive simulator's MAST over HTTP: skyhaul "
    "`mast import --source http -j {concurrency}` (every FITS file's CHECKSUM/DATASUM "
    "verified and its headers stored before promotion) against astroquery's "
    "`download_products` (one file at a time, no verification), each from a fresh start. "
    "Two settings: each connection served at {bandwidth} MiB/s (a remote archive serves a "
    "connection at tens of MB/s, not at loopback's GB/s; the target is checked there) and "
    "loopback without a limit, where both are bound by this machine's 2 cores, the "
    "simulator's own included. Then each client is SIGKILLed when half the bytes are on "
    "disk and run again (astroquery with cache=True, its default), against the same "
    "server and against one that advertises Accept-Ranges but answers a range request "
    "with the whole file (as a proxy may), and every product is compared with the "
    "simulator's sha256. Measured by benchmarks/bench_mast.py."
)


def _timed_runs(
    sim: SimProcess,
    clients: _Clients,
    products: Sequence[Product],
    repeat: int,
    work: Path,
    say: Callable[[str], None],
) -> list[Timed]:
    runs: list[Timed] = []
    settings = ((f"{BANDWIDTH // MiB} MiB/s per connection", BANDWIDTH), ("loopback", None))
    for setting, bandwidth in settings:
        sim.configure({} if bandwidth is None else {"bandwidth": bandwidth})
        for repetition in range(repeat):
            order = CLIENTS if repetition % 2 == 0 else CLIENTS[::-1]
            for client in order:
                out, scratch = _fresh(work, client)
                measured = run_measured(
                    clients.argv(client, out, scratch, rerun=False),
                    timeout=TIMEOUT_S,
                    stdout=scratch / "stdout.log",
                    stderr=scratch / "stderr.log",
                    cwd=REPO,
                    env=clients.env(client, scratch),
                )
                seen = census(products, out)
                runs.append(Timed(client, setting, measured, seen))
                say(
                    f"[m] {setting} {repetition + 1}/{repeat} {client}: {measured.wall:.2f} s, "
                    f"exit {measured.returncode}, {seen.right}/{len(products)} right"
                )
                shutil.rmtree(out, ignore_errors=True)
    return runs


def _kill_and_rerun(
    sim: SimProcess,
    clients: _Clients,
    client: str,
    case: str,
    products: Sequence[Product],
    total: int,
    work: Path,
    say: Callable[[str], None],
) -> Killed:
    sim.configure({"bandwidth": BANDWIDTH})
    out, scratch = _fresh(work, client)
    seen = {"on_disk": 0}

    def half_there() -> bool:
        seen["on_disk"] = allocated_bytes(out) if out.exists() else 0
        return seen["on_disk"] >= KILL_AT * total

    first, killed = run_killed_when(
        clients.argv(client, out, scratch, rerun=False),
        when=half_there,
        poll=POLL_S,
        timeout=TIMEOUT_S,
        stdout=scratch / "first-stdout.log",
        stderr=scratch / "first-stderr.log",
        cwd=REPO,
        env=clients.env(client, scratch),
    )
    sim.configure({"bandwidth": BANDWIDTH, **KILL_CASES[case]})
    start = time.perf_counter()
    rerun = run_measured(
        clients.argv(client, out, scratch, rerun=True),
        timeout=TIMEOUT_S,
        stdout=scratch / "rerun-stdout.log",
        stderr=scratch / "rerun-stderr.log",
        cwd=REPO,
        env=clients.env(client, scratch),
    )
    wall = time.perf_counter() - start
    left = census(products, out)
    say(
        f"[m] kill {client}, {case}: {'killed' if killed else 'not killed'} at "
        f"{seen['on_disk'] / MiB:,.0f} MiB; rerun {wall:.2f} s exit {rerun.returncode}: "
        f"{left.right} right, {left.corrupt} corrupt, {left.missing} missing"
    )
    shutil.rmtree(out, ignore_errors=True)
    codes = (first.returncode, rerun.returncode)
    return Killed(client, case, seen["on_disk"], killed, codes, wall, left)


def _fresh(work: Path, client: str) -> tuple[Path, Path]:
    out, scratch = work / client / "out", work / client / "scratch"
    shutil.rmtree(work / client, ignore_errors=True)
    scratch.mkdir(parents=True)
    return out, scratch


def _median_wall(runs: Sequence[Timed], client: str, setting: str) -> float | None:
    walls = [r.measurement.wall for r in runs if r.client == client and r.setting == setting]
    return statistics.median(walls) if walls else None


def _timed_table(runs: Sequence[Timed], count: int, total: int) -> FigureTable:
    rows = []
    settings = list(dict.fromkeys(r.setting for r in runs))
    for setting in settings:
        sky = _median_wall(runs, SKYHAUL, setting)
        for client in CLIENTS:
            mine = [r for r in runs if r.client == client and r.setting == setting]
            if not mine:
                continue
            wall = statistics.median(r.measurement.wall for r in mine)
            walls = sorted(r.measurement.wall for r in mine)
            rows.append(
                (
                    client,
                    setting,
                    f"{wall:.2f} ({walls[0]:.2f}–{walls[-1]:.2f})",
                    f"{statistics.median(r.measurement.cpu for r in mine):.2f}",
                    f"{total / MiB / wall:,.0f}",
                    f"{min(r.census.right for r in mine)}/{count}",
                    "" if sky is None else f"{wall / sky:.2f}",
                    " ".join(str(r.measurement.returncode) for r in mine),
                )
            )
    head = (
        "client",
        "setting",
        "wall s (range)",
        "CPU s",
        "MiB/s",
        "products right",
        "tool ÷ skyhaul (wall)",
        "exit codes",
    )
    return FigureTable(f"From a fresh start ({total / MiB:,.0f} MiB in all):", head, tuple(rows))


def _killed_table(runs: Sequence[Killed], products: Sequence[Product]) -> FigureTable:
    fits = sum(p.fits for p in products)
    rows = tuple(
        (
            run.client,
            run.case,
            f"{run.on_disk / MiB:,.0f}" + ("" if run.killed else " (ended first)"),
            f"{run.rerun_wall:.2f}",
            f"{run.census.right}/{len(products)}",
            f"**{run.census.corrupt_fits}**/{fits}",
            str(run.census.corrupt - run.census.corrupt_fits),
            str(run.census.missing),
            f"{run.codes[0]} {run.codes[1]}",
        )
        for run in runs
    )
    head = (
        "client",
        "server in the rerun",
        "on disk at the kill, MiB",
        "rerun wall s",
        "right after the rerun",
        "corrupt FITS",
        "other corrupt",
        "missing",
        "exit codes (kill, rerun)",
    )
    return FigureTable(
        f"Killed at half ({BANDWIDTH // MiB} MiB/s per connection), then run again:", head, rows
    )


def targets(timed: Sequence[Timed], killed: Sequence[Killed], count: int) -> list[TargetCheck]:
    """At least ``SPEEDUP`` times astroquery's speed with the bandwidth limit (skyhaul's
    runs all complete and right), and no corrupt file after skyhaul's kill and rerun."""
    setting = f"{BANDWIDTH // MiB} MiB/s per connection"
    text = f"at least {SPEEDUP:.0f}x faster than astroquery ({setting}, median wall)"
    sky, theirs = _median_wall(timed, SKYHAUL, setting), _median_wall(timed, "astroquery", setting)
    checks = []
    if sky is None or theirs is None:
        checks.append(TargetCheck(text, "n/a", "a client did not run"))
    else:
        ours = [r for r in timed if r.client == SKYHAUL]
        whole = all(r.census.right == count and r.measurement.returncode == 0 for r in ours)
        ratio = theirs / sky
        detail = f"astroquery {theirs:.2f} s / skyhaul {sky:.2f} s = {ratio:.2f}x"
        if not whole:
            detail += "; a skyhaul run did not bring every product right"
        checks.append(TargetCheck(text, "met" if ratio >= SPEEDUP and whole else "missed", detail))
    text = "no corrupt file after a SIGKILL at half and a rerun; every product right"
    mine = [k for k in killed if k.client == SKYHAUL]
    if not mine:
        checks.append(TargetCheck(text, "n/a", "skyhaul did not run"))
    else:
        ok = all(r.killed and r.census.corrupt == 0 and r.census.right == count for r in mine)
        detail = "; ".join(
            f"{run.case}: {run.census.corrupt} corrupt, {run.census.right}/{count} right"
            + ("" if run.killed else ", ended before the kill")
            for run in mine
        )
        checks.append(TargetCheck(text, "met" if ok else "missed", detail))
    return checks


def main(argv: list[str] | None = None) -> None:
    """Command line: run (m) alone and print its section (see the module docstring)."""
    from benchmarks import standalone

    standalone.run_alone(argv, __doc__, "skyhaul-bench-mast-", scenario)


if __name__ == "__main__":
    main()
