"""Scenario (c): run ``benchmarks.bench_catalog.run(rows, url)`` in a child and read its figures.

Rules:
- ``bench_catalog`` is written by another engineer; this module only calls it, in a child
  interpreter with a deadline, on a fresh SQLite catalog under the work directory (or the
  catalog URL given, e.g. PostgreSQL, where it works in a throw-away schema).
- It may not exist yet: the harness can wait for it (``--wait-catalog``), else the
  scenario is reported as skipped.
- Its result is a dict; the claim and status times are read from the keys that name them
  (``claim...``/``status...``, in seconds, or milliseconds when the key ends in ``ms``).
- "Print status" is also timed as a user sees it: ``skyhaul status --json`` on the filled
  SQLite catalog, start-up included (median of a few runs).
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from benchmarks.procs import Measurement, last_line, run_measured
from benchmarks.results import ScenarioResult
from benchmarks.scenarios import CatalogScenario
from benchmarks.tools import REPO, Tool

__all__ = ["run_catalog_scenario"]

MODULE_PATH = REPO / "benchmarks" / "bench_catalog.py"
STATUS_RUNS = 3

_CHILD = """\
import json, sys
from benchmarks.bench_catalog import run
print(json.dumps(run(int(sys.argv[1]), sys.argv[2]), default=str))
"""


def run_catalog_scenario(
    scenario: CatalogScenario,
    *,
    work: Path,
    url: str | None,
    skyhaul: Tool,
    wait: float,
    say: Callable[[str], None],
) -> ScenarioResult:
    """Run scenario (c) once; skipped when ``bench_catalog.py`` is missing after ``wait`` s.

    Parameters
    ----------
    scenario : CatalogScenario
        Rows and deadline.
    work : Path
        Scratch directory (emptied first; the SQLite catalog goes here).
    url : str or None
        Catalog URL to use instead of a SQLite file in ``work``.
    skyhaul : Tool
        The skyhaul command, for timing ``skyhaul status`` (skipped if unavailable).
    wait : float
        Seconds to wait for ``bench_catalog.py`` to appear.
    say : callable
        Receives progress lines.

    Returns
    -------
    ScenarioResult
    """
    result = ScenarioResult(scenario.key, scenario.title, scenario.description)
    result.targets = scenario.targets(None, None, None)
    if not _appeared(wait, say):
        result.skipped["bench_catalog"] = f"{MODULE_PATH.relative_to(REPO)} does not exist"
        return result
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    url = url or f"sqlite:///{work.resolve() / 'catalog.db'}"
    say(f"[c] bench_catalog.run({scenario.rows:,}, {url!r}) ...")
    stdout, stderr = work / "stdout.log", work / "stderr.log"
    measurement = run_measured(
        [sys.executable, "-c", _CHILD, str(scenario.rows), url],
        timeout=scenario.timeout,
        stdout=stdout,
        stderr=stderr,
        cwd=REPO,
    )
    figures = _last_json(stdout.read_text(errors="replace"))
    if measurement.returncode != 0 or figures is None:
        why = "timed out" if measurement.timed_out else f"exit {measurement.returncode}"
        error = last_line(stderr.read_text(errors="replace"))
        result.skipped["bench_catalog"] = f"bench_catalog.run failed ({why}): {error}"
        return result
    say(f"[c] bench_catalog done in {measurement.wall:.1f} s: {json.dumps(figures, default=str)}")
    result.extra = {**figures, "bench_catalog wall s": round(measurement.wall, 2)}
    command_seconds = None
    if skyhaul.path is not None and url.startswith("sqlite:"):
        command_seconds = _time_status_command(skyhaul.path, url, work, result, say)
    result.targets = scenario.targets(
        _seconds(figures, "claim"), _seconds(figures, "status"), command_seconds
    )
    return result


def _time_status_command(
    program: str, url: str, work: Path, result: ScenarioResult, say: Callable[[str], None]
) -> float | None:
    """Median wall seconds of ``skyhaul status --json`` on the filled catalog (start-up in)."""
    runs: list[Measurement] = []
    for _ in range(STATUS_RUNS):
        runs.append(
            run_measured(
                [program, "status", "--json", "--catalog", url],
                timeout=120,
                stdout=work / "status.out",
                stderr=work / "status.err",
            )
        )
        if runs[-1].returncode != 0:
            error = last_line((work / "status.err").read_text(errors="replace"))
            result.skipped["skyhaul status"] = f"exit {runs[-1].returncode}: {error}"
            return None
    wall = statistics.median(m.wall for m in runs)
    result.extra["`skyhaul status --json` wall s"] = round(wall, 3)
    result.extra["`skyhaul status --json` CPU s"] = round(statistics.median(m.cpu for m in runs), 3)
    say(f"[c] skyhaul status --json: {wall:.2f} s wall (median of {STATUS_RUNS})")
    return wall


def _appeared(wait: float, say: Callable[[str], None]) -> bool:
    deadline = time.monotonic() + wait
    if not MODULE_PATH.exists() and wait > 0:
        say(f"[c] waiting up to {wait:.0f} s for {MODULE_PATH.relative_to(REPO)} ...")
    while not MODULE_PATH.exists() and time.monotonic() < deadline:
        time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
    return MODULE_PATH.exists()


def _last_json(text: str) -> dict[str, object] | None:
    for line in reversed(text.splitlines()):
        try:
            document = json.loads(line)
        except ValueError:
            continue
        return document if isinstance(document, dict) else None
    return None


def _seconds(figures: Mapping[str, object], topic: str) -> float | None:
    """The first figure whose key names ``topic``, in seconds (``None``: not found)."""
    for key, value in figures.items():
        lowered = key.lower()
        if topic not in lowered:
            continue
        number = value.get("median") if isinstance(value, Mapping) else value
        if isinstance(number, int | float) and not isinstance(number, bool):
            return number / 1000 if lowered.endswith("ms") else float(number)
    return None
