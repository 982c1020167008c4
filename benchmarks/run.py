"""``make bench``: skyhaul and its peers against one loopback nginx, writing to /dev/shm.

Scenarios (see ``scenarios.py``): (a) 4 large files with sha256, (b) 2,000 small files,
(b20) 20,000 small files, (c) claim and status on a 1,000,000-row catalog
(``bench_catalog.py``), (d) 300 tiny files from a rate-limited server; (h) skyhaul and
aria2c against the archive simulator's faults (``bench_faults.py``); (k) the bytes a
SIGKILL at about half costs skyhaul and aria2c (``bench_kill.py``); (m) a MAST import of
one observation, skyhaul against astroquery's ``download_products`` (``bench_mast.py``);
(p) 20,000 raw files (5 GiB) packaged to a local archive and to S3, skyhaul's pipeline
against ``tar | tee >(sha256sum)`` and ``sha256sum`` of the members (``bench_packages.py``);
and skyhaul alone:
(e) discovering 100,000 files from the archive simulator (``bench_discovery.py``), (f) each
selection query on a 1,000,000-row catalog (``bench_selection.py``), (g) backfill goodput
against records APIs limited to 5, 20 and 100 requests/s, next to the seed's AIMD client
(``bench_backfill.py``); (s) S3 from the simulator's S3: ``skyhaul get s3://`` beside
boto3 and the aws CLI (``bench_s3.py``); and (w) ``skyhaul serve`` running an import job
followed by 50 browsers over Server-Sent Events, against none (``bench_web.py``). Prints
one Markdown table per scenario and writes them, with the machine and tool versions,
below the marker line of ``benchmarks/README.md``.

Usage: ``python -m benchmarks.run [--quick] [--repeat N] [--only a,b,h,k] [--tools ...]``.

``--compare REV`` also runs skyhaul at git revision ``REV`` (a detached worktree under the
git-ignored ``bench-data/compare/``, see ``compare.py``) as the tool ``skyhaul@<commit>``,
alternating with the current tree in the transfer scenarios (a, b, b20, d), the fault runs
(h) and the kill runs (k), and shows current / base under each table (k: one row more).
Such results are only printed: the README is written only when ``--write`` is given too, so
a comparison never replaces the README's tables by accident.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import shlex
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import skyhaul
from benchmarks import compare
from benchmarks.catalog_runs import run_catalog_scenario
from benchmarks.install import Installer
from benchmarks.machine import describe_machine, load_average
from benchmarks.procs import run_measured
from benchmarks.report import RunContext, render, write_readme
from benchmarks.results import ScenarioResult
from benchmarks.scenarios import TransferScenario, catalog_scenario, transfer_scenarios
from benchmarks.servers import NginxServer
from benchmarks.tools import REPO, Tool, find_tools
from benchmarks.transfer_runs import run_transfer_scenario

__all__ = ["main", "readme_target"]

SCENARIOS = ("a", "b", "b20", "c", "d", "e", "f", "g", "h", "k", "m", "p", "s", "w")
# Scenarios run by a module of their own, ``scenario(quick=, say=) -> ScenarioResult``.
_OWN = {"e": "bench_discovery", "f": "bench_selection", "g": "bench_backfill", "s": "bench_s3"}
# Scenarios run by a module of their own that runs the tools found here, the base revision
# among them: ``scenario(quick=, repeat=, work=, root=, tools=, base=, say=)`` returns one
# section, or a list of them (h: one per fault case).
_WITH_BASE = {
    "h": "bench_faults",
    "k": "bench_kill",
    "m": "bench_mast",
    "p": "bench_packages",
    "w": "bench_web",
}
README = REPO / "benchmarks" / "README.md"
_SHM = Path("/dev/shm")

_INTRO = """\
# Benchmarks

`make bench` (or `.venv/bin/python -m benchmarks.run`) runs skyhaul and the peers found on
the machine (curl, wget, aria2c, parfive, a bare aiohttp loop) against one nginx on
loopback, writing to `/dev/shm`, times discovery, catalog selections and backfill goodput
on their own, compares S3 clients on the simulator's S3, and rewrites the results below
the marker line.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected scenarios, print the tables, update the README; return 0."""
    args = _parser().parse_args(argv)
    selected = _selection(args.only)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    load_before = load_average()
    installer = Installer(allowed=not args.no_install, say=_say)
    tools = _restrict(find_tools(installer), args.tools)
    installer.bytecode(Path(skyhaul.__file__).parent)  # as a pip install leaves it
    base = compare.prepare(args.compare, installer, _say) if args.compare else None
    if base is not None:
        tools[base.name] = base
    work = args.workdir or _default_workdir()
    root, runs = work / "srv", work / "runs"
    _say(f"work directory {work} (server root {root})")
    results: list[ScenarioResult] = []
    try:
        transfers = [s for s in transfer_scenarios(quick=args.quick) if s.key in selected]
        if base is not None:
            transfers = [compare.with_base(s, base.name) for s in transfers]
            if not transfers and not selected & set(_WITH_BASE):
                _say(
                    "--compare: only the transfer scenarios (a, b, b20, d), the fault runs (h) "
                    "and the kill runs (k) run the base revision"
                )
        by_key: dict[str, list[ScenarioResult]] = {}
        for result in _run_transfers(transfers, tools, root, runs, repeat):
            by_key[result.key] = [result]
        if "c" in selected:
            by_key["c"] = [
                run_catalog_scenario(
                    catalog_scenario(quick=args.quick),
                    work=runs / "c",
                    url=args.catalog_url,
                    skyhaul=tools["skyhaul"],
                    wait=args.wait_catalog,
                    say=_say,
                )
            ]
        for key, name in _OWN.items():
            if key in selected:
                by_key[key] = [_run_own(key, name, quick=args.quick)]
        for key, name in _WITH_BASE.items():
            if key in selected:
                by_key[key] = _run_with_base(
                    key,
                    name,
                    quick=args.quick,
                    repeat=repeat,
                    work=runs / key,
                    root=root,
                    tools=tools,
                    base=None if base is None else base.name,
                )
        results = [r for key in SCENARIOS for r in by_key.get(key, [])]
    finally:
        shutil.rmtree(runs, ignore_errors=True)
        if not args.keep_data:
            shutil.rmtree(root, ignore_errors=True)
            _remove_if_empty(work)
    startup = _startup(tools["skyhaul"])
    if base is not None and startup:
        startup += f" ({base.name}: {_startup(base)})"
    context = RunContext(
        command=" ".join(["python -m benchmarks.run", shlex.join(argv or sys.argv[1:])]).strip(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        quick=args.quick,
        repeat=repeat,
        machine=describe_machine(),
        tools=tools,
        installs=installer.notes,
        load=(load_before, load_average()),
        startup=startup,
    )
    generated = render(context, results)
    print("\n" + generated)
    readme = readme_target(args)
    if readme is not None:
        write_readme(readme, generated, _INTRO)
        _say(f"wrote {readme}")
    elif args.compare and args.readme is not None:
        _say("--compare: results printed only; add --write to put them in the README")
    return 0


def readme_target(args: argparse.Namespace) -> Path | None:
    """The file the results go to: none with ``--compare`` unless ``--write`` is given.

    A comparison of two revisions is a check of one change, not the project's figures:
    writing it over the README's tables takes an explicit ``--write``.
    """
    if args.compare and not args.write:
        return None
    readme: Path | None = args.readme
    return readme


def _run_transfers(
    scenarios: list[TransferScenario],
    tools: dict[str, Tool],
    root: Path,
    runs: Path,
    repeat: int,
) -> list[ScenarioResult]:
    if not scenarios:
        return []
    nginx = tools["nginx"]
    if nginx.path is None:
        return [_unserved(s, f"no server: nginx {nginx.version}") for s in scenarios]
    with NginxServer(nginx.path, root) as server:
        _say(f"nginx serving {root} at {server.base_url}")
        return [
            run_transfer_scenario(
                scenario,
                tools=tools,
                server=server,
                root=root,
                work=runs / scenario.key,
                repeat=repeat,
                say=_say,
            )
            for scenario in scenarios
        ]


def _run_own(key: str, name: str, *, quick: bool) -> ScenarioResult:
    """Run ``benchmarks.<name>.scenario`` here (it starts the children it measures).

    Imported only when selected; a failure is reported in its section, not raised.
    """
    _say(f"[{key}] benchmarks/{name}.py ...")
    try:
        module = importlib.import_module(f"benchmarks.{name}")
        outcome: ScenarioResult = module.scenario(quick=quick, say=_say)
    except Exception as error:  # one broken benchmark must not lose the others' results
        outcome = ScenarioResult(key, f"benchmarks/{name}.py", "It failed; see the reason.")
        outcome.skipped[name] = f"failed: {type(error).__name__}: {error}"
    return outcome


def _run_with_base(
    key: str,
    name: str,
    *,
    quick: bool,
    repeat: int,
    work: Path,
    root: Path,
    tools: dict[str, Tool],
    base: str | None,
) -> list[ScenarioResult]:
    """Run ``benchmarks.<name>.scenario`` with the tools (and base revision) found here.

    (h) keeps the simulator's files under the server root (``root/sim``), (k) uses nginx
    on (a)'s files there; both are removed with the rest unless ``--keep-data``. A failure
    is reported in its section, not raised.
    """
    _say(f"[{key}] benchmarks/{name}.py ...")
    try:
        module = importlib.import_module(f"benchmarks.{name}")
        outcome = module.scenario(
            quick=quick,
            repeat=repeat,
            work=work,
            root=root,
            tools=tools,
            base=base,
            say=_say,
        )
    except Exception as error:  # one broken benchmark must not lose the others' results
        failed = ScenarioResult(key, f"benchmarks/{name}.py", "It failed; see the reason.")
        failed.skipped[name] = f"failed: {type(error).__name__}: {error}"
        return [failed]
    return list(outcome) if isinstance(outcome, list) else [outcome]


def _startup(skyhaul: Tool, runs: int = 3) -> str:
    """skyhaul's start-up cost (``skyhaul --help``): it is inside every timed run."""
    if skyhaul.path is None:
        return ""
    env = {**os.environ, **skyhaul.env} if skyhaul.env else None
    with tempfile.TemporaryDirectory(prefix="skyhaul-bench-") as scratch:
        out, err = Path(scratch) / "out", Path(scratch) / "err"
        measured = [
            run_measured([skyhaul.path, "--help"], timeout=60, stdout=out, stderr=err, env=env)
            for _ in range(runs)
        ]
    wall = statistics.median(m.wall for m in measured)
    cpu = statistics.median(m.cpu for m in measured)
    return f"{wall:.2f} s wall, {cpu:.2f} s CPU"


def _unserved(scenario: TransferScenario, why: str) -> ScenarioResult:
    result = ScenarioResult(scenario.key, scenario.title, scenario.description)
    result.skipped["all clients"] = why
    result.targets = scenario.targets(scenario, {})
    return result


def _restrict(tools: dict[str, Tool], only: str | None) -> dict[str, Tool]:
    if only is None:
        return tools
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    unknown = wanted - set(tools)
    if unknown:
        raise SystemExit(f"--tools: unknown tool(s) {sorted(unknown)}; use {', '.join(tools)}")
    wanted.add("nginx")
    return {
        name: tool if name in wanted else Tool(name, None, "not selected (--tools)")
        for name, tool in tools.items()
    }


def _selection(only: str | None) -> set[str]:
    if only is None:
        return set(SCENARIOS)
    chosen = {key.strip().lower() for key in only.split(",") if key.strip()}
    unknown = chosen - set(SCENARIOS)
    if unknown:
        raise SystemExit(
            f"--only: unknown scenario(s) {sorted(unknown)}; use {', '.join(SCENARIOS)}"
        )
    return chosen


def _default_workdir() -> Path:
    if _SHM.is_dir():
        return _SHM / "skyhaul-bench"
    _say("no /dev/shm: using a temporary directory, disk noise may show in the numbers")
    return Path(tempfile.gettempdir()) / "skyhaul-bench"


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not empty, or already gone
        directory.rmdir()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=(
            "Benchmark skyhaul against curl, wget, aria2c and parfive on loopback, "
            "and its discovery, catalog selections and backfill goodput on their own."
        ),
    )
    parser.add_argument(
        "--quick", action="store_true", help="small datasets, 1 repetition: a smoke run"
    )
    parser.add_argument(
        "--repeat", type=_positive, metavar="N", help="repetitions per client (default 3, quick 1)"
    )
    parser.add_argument(
        "--only",
        metavar="KEYS",
        help="scenarios to run, e.g. a,b,d or e,f,g (keys: " + ",".join(SCENARIOS) + ")",
    )
    parser.add_argument(
        "--tools",
        metavar="NAMES",
        help="clients to run, e.g. skyhaul,curl,aria2c (default: every available one)",
    )
    parser.add_argument(
        "--no-install", action="store_true", help="never install missing tools (apt, pip)"
    )
    parser.add_argument(
        "--wait-catalog",
        type=float,
        default=0.0,
        metavar="S",
        help="wait up to S seconds for benchmarks/bench_catalog.py to appear",
    )
    parser.add_argument(
        "--catalog-url",
        metavar="URL",
        help="catalog for scenario (c) (default: a fresh SQLite file in the work directory)",
    )
    parser.add_argument(
        "--workdir", type=Path, help="where data and outputs go (default /dev/shm/skyhaul-bench)"
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the generated files for the next run"
    )
    parser.add_argument(
        "--compare",
        metavar="REV",
        help=(
            "also run skyhaul at git revision REV (e.g. HEAD~3), alternating with this tree "
            "in (a), (b), (b20), (d), (h), (k), and show current / base; printed only unless "
            "--write"
        ),
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="with --compare: write the results to the README too (default: print only)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--readme", type=Path, default=README, help=f"file to update (default {README})"
    )
    output.add_argument(
        "--no-readme", dest="readme", action="store_const", const=None, help="only print"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
