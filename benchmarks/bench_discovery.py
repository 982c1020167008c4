"""Discovery benchmark: list 100,000 files from the archive simulator and register them.

    python -m benchmarks.bench_discovery [--files N] [--postgres URL | --no-postgres]

Rules:
- The simulator (``skyhaul.sim``) serves ``--files`` files spread over a week, from a
  thread of this process. It writes every file to its cache before it listens, so the
  files are one-byte blobs, in a throw-away directory under /dev/shm.
- Each discovery runs in a child interpreter of its own, so its peak RSS is the
  discovery's and nothing else's. The child builds the ``sim`` source, opens the
  catalog, then times ``skyhaul.services.discovery.discover`` over a window holding
  every file: the listing request, its JSON, the file specs and their registration.
- Peak RSS is the child's ``VmHWM`` (/proc/self/status), not ``ru_maxrss``: Linux carries
  ``ru_maxrss`` over fork and exec, so a child of this process (the simulator, some
  hundreds of MB with its listing) would report this process's size, not its own.
  ``ru_maxrss`` is the fallback where there is no /proc.
- Two discoveries per catalog, each in a fresh child: the first finds every file new,
  the second every file known. On a throw-away SQLite file, and in a throw-away schema
  of the PostgreSQL database at ``--postgres`` when it answers (skipped otherwise).
- The simulator answers from this process, on the same cores: its time to build and
  send the listing is inside the figures, as an archive's would be.

Targets (the issue): each discovery under 20 s and under 500 MB of peak RSS (MB: 10^6
bytes; the child's interpreter and imports included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_catalog import DEFAULT_POSTGRES, catalog_backends, scratch_catalog
from benchmarks.procs import last_line, run_measured
from benchmarks.results import ScenarioResult, TargetCheck, check_at_most
from benchmarks.tools import REPO
from skyhaul.core.window import TimeWindow
from skyhaul.sim import ArchiveSpec, SimConfig, SimThread

__all__ = ["discover_once", "main", "run", "scenario"]

FILES = 100_000
TARGET_S = 20.0
TARGET_MB = 500.0
CHILD_TIMEOUT_S = 600.0
SIM_START_TIMEOUT_S = 1800.0
RUNS = ("first (all new)", "second (all known)")

_CHILD = """\
import json, sys
from benchmarks.bench_discovery import discover_once
print(json.dumps(discover_once(*sys.argv[1:])))
"""


def discover_once(
    base_url: str, catalog_url: str, dest: str, start: str, end: str
) -> dict[str, Any]:
    """Discover every file the simulator at ``base_url`` lists in ``[start, end)`` (a child).

    Parameters
    ----------
    base_url : str
        The simulator's base URL.
    catalog_url : str
        The catalog to register into.
    dest : str
        Destination root of the files (absolute).
    start, end : str
        The window, ISO 8601.

    Returns
    -------
    dict
        ``seconds`` (the ``discover`` call), ``peak_rss_kib`` (this process's peak,
        see the module docstring), ``rss_before_kib`` (just before the call), and the
        counts.
    """
    from skyhaul.adapters.catalog import open_catalog

    window = TimeWindow(datetime.fromisoformat(start), datetime.fromisoformat(end))
    catalog = open_catalog(catalog_url)
    try:
        rss_before = _status_kib("VmRSS")
        began = time.perf_counter()
        found = asyncio.run(_discover(catalog, base_url, dest, window))
        seconds = time.perf_counter() - began
    finally:
        catalog.close()
    return {
        "seconds": round(seconds, 3),
        "peak_rss_kib": _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "rss_before_kib": rss_before,
        **{key: found[key] for key in ("listed", "new", "known", "changed")},
    }


async def _discover(catalog: Any, base_url: str, dest: str, window: TimeWindow) -> dict[str, Any]:
    from skyhaul.adapters.config import SourceConfig
    from skyhaul.adapters.sources import ListingQuery, build_source
    from skyhaul.services.discovery import discover

    config = SourceConfig(
        name="sim",
        type="sim",
        options={"url": base_url},
        dest=Path(dest),
        base_dir=Path(dest),
        where="bench",
    )
    source = build_source(config)
    try:
        result = await discover(catalog, source, ListingQuery(window), dest)
    finally:
        await source.aclose()
    return result.as_json()


def _status_kib(field: str) -> int | None:
    """A memory figure of this process from /proc/self/status, in KiB (None: no /proc)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


def run(
    files: int = FILES,
    *,
    postgres: str | None = DEFAULT_POSTGRES,
    say: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Serve ``files`` files from the simulator and time two discoveries per backend.

    Parameters
    ----------
    files : int
        Files in the simulated archive.
    postgres : str or None
        PostgreSQL catalog URL to run on too (in a throw-away schema); None: SQLite only.
    say : callable
        Receives progress lines.

    Returns
    -------
    dict
        ``files``, ``sim_start_s`` (the simulator writing its files and listening),
        ``runs`` (backend, run, seconds, peak and starting RSS in MB, counts, the child's
        wall and CPU seconds) and ``skipped`` (what did not run, and why).
    """
    figures: dict[str, Any] = {"files": files, "runs": [], "skipped": {}}
    urls, skipped = catalog_backends(postgres)
    figures["skipped"].update(skipped)
    spec = ArchiveSpec.exact(count=files, size=1, kind="blob")
    window = TimeWindow(spec.start, spec.start + timedelta(days=spec.days + 1))
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(
        prefix="skyhaul-bench-discovery-", dir=shm if shm.is_dir() else None
    ) as directory:
        scratch = Path(directory)
        say(f"[discovery] simulator writing {files:,} files of 1 byte ...")
        began = time.perf_counter()
        config = SimConfig(archive=spec, root=scratch / "sim")
        with SimThread(config, start_timeout=SIM_START_TIMEOUT_S) as sim:
            figures["sim_start_s"] = round(time.perf_counter() - began, 2)
            say(f"[discovery] simulator at {sim.base_url} after {figures['sim_start_s']} s")
            for url in urls:
                with scratch_catalog(url) as (catalog_url, backend):
                    for label in RUNS:
                        outcome = _child(sim.base_url, catalog_url, scratch, window)
                        if isinstance(outcome, str):
                            figures["skipped"][f"{backend}, {label}"] = outcome
                            break
                        figures["runs"].append({"backend": backend, "run": label, **outcome})
                        say(f"[discovery] {backend}, {label}: {json.dumps(outcome)}")
    return figures


def _child(
    base_url: str, catalog_url: str, scratch: Path, window: TimeWindow
) -> dict[str, Any] | str:
    """Run one discovery in a child; its figures, or why it failed."""
    stdout, stderr = scratch / "child.out", scratch / "child.err"
    argv = [
        sys.executable,
        "-c",
        _CHILD,
        base_url,
        catalog_url,
        str(scratch / "data"),
        window.start.isoformat(),
        window.end.isoformat(),
    ]
    measurement = run_measured(
        argv, timeout=CHILD_TIMEOUT_S, stdout=stdout, stderr=stderr, cwd=REPO
    )
    if measurement.returncode != 0:
        why = "timed out" if measurement.timed_out else f"exit {measurement.returncode}"
        return f"failed ({why}): {last_line(stderr.read_text(errors='replace'))}"
    found = json.loads(last_line(stdout.read_text()))
    return {
        "seconds": found["seconds"],
        "peak_rss_mb": _mb(found["peak_rss_kib"]),
        "rss_before_mb": None if found["rss_before_kib"] is None else _mb(found["rss_before_kib"]),
        **{key: found[key] for key in ("listed", "new", "known", "changed")},
        "child_wall_s": round(measurement.wall, 2),
        "child_cpu_s": round(measurement.cpu, 2),
    }


def _mb(kib: int) -> float:
    return round(kib * 1024 / 1e6, 1)


def _counts_right(entry: dict[str, Any], files: int) -> bool:
    """The first discovery finds every file new, the second every file known."""
    wanted = "new" if entry["run"] == RUNS[0] else "known"
    return entry["listed"] == files and entry[wanted] == files and entry["changed"] == 0


# --- reporting ----------------------------------------------------------------------------


def table_lines(figures: dict[str, Any]) -> list[str]:
    """The results as a plain-text table (``*``: over target)."""
    lines = [
        f"discovery benchmark: {figures['files']:,} files listed by the simulator "
        f"(which wrote them and listened in {figures.get('sim_start_s', 0):.1f} s); "
        f"targets < {TARGET_S:.0f} s and < {TARGET_MB:.0f} MB each (* over)",
        "",
        f"  {'backend':<11} {'run':<19} {'seconds':>8}  {'peak RSS MB':>12}  {'before':>7}"
        f"  {'new':>8}  {'known':>8}  {'changed':>7}  {'child wall s':>12}",
    ]
    for e in figures["runs"]:
        slow = "*" if e["seconds"] > TARGET_S else " "
        big = "*" if e["peak_rss_mb"] > TARGET_MB else " "
        before = "" if e["rss_before_mb"] is None else f"{e['rss_before_mb']:.0f}"
        lines.append(
            f"  {e['backend']:<11} {e['run']:<19} {e['seconds']:>7.2f}{slow}"
            f"  {e['peak_rss_mb']:>11.0f}{big}  {before:>7}  {e['new']:>8,}  {e['known']:>8,}"
            f"  {e['changed']:>7,}  {e['child_wall_s']:>12.2f}"
        )
    for what, why in figures["skipped"].items():
        lines += ["", f"{what}: skipped, {why}"]
    return lines


def scenario(*, quick: bool, say: Callable[[str], None]) -> ScenarioResult:
    """Run the benchmark for ``make bench`` (scenario e) and return its section."""
    files = 10_000 if quick else FILES
    result = ScenarioResult(
        "e",
        f"discovery of {files:,} files from the archive simulator",
        "List a window holding every file of the in-process archive simulator (one JSON "
        "listing) and register the files in a fresh catalog, with "
        "skyhaul.services.discovery.discover, in a child process of its own so that its "
        "peak RSS (VmHWM, interpreter and imports included) is the discovery's; then once "
        "more, when every file is known. Measured by benchmarks/bench_discovery.py.",
    )
    figures = run(files, say=say)
    result.skipped.update(figures["skipped"])
    result.extra["simulator start-up s (writes every file)"] = figures.get("sim_start_s", "")
    for e in figures["runs"]:
        name = f"{e['backend']}, {e['run']}"
        result.extra[name] = (
            f"{e['seconds']:.2f} s, peak RSS {e['peak_rss_mb']:.0f} MB "
            f"(at start {e['rss_before_mb']} MB); {e['new']:,} new, {e['known']:,} known, "
            f"{e['changed']:,} changed"
        )
        result.targets += [
            check_at_most(f"{name} discovery under 20 s", e["seconds"], TARGET_S, "s"),
            check_at_most(f"{name} discovery under 500 MB", e["peak_rss_mb"], TARGET_MB, "MB"),
        ]
        if not _counts_right(e, files):
            detail = f"listed {e['listed']:,}, new {e['new']:,}, known {e['known']:,}"
            result.targets.append(TargetCheck(f"{name}: every file counted", "missed", detail))
    return result


def main(argv: list[str] | None = None) -> None:
    """Command line: print the table (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=FILES, help="files in the archive")
    backends = parser.add_mutually_exclusive_group()
    backends.add_argument(
        "--postgres", default=DEFAULT_POSTGRES, metavar="URL", help="PostgreSQL to run on too"
    )
    backends.add_argument(
        "--no-postgres", dest="postgres", action="store_const", const=None, help="SQLite only"
    )
    args = parser.parse_args(argv)
    print("\n".join(table_lines(run(args.files, postgres=args.postgres, say=_say))))


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
