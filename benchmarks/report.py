"""Render the results as Markdown: printed at the end of a run and written to the README.

Rules:
- One section per scenario: a table (medians), the issue's figures next to ours, the
  targets with the numbers compared, the exact commands, and any skyhaul run that failed.
- With ``--compare``, the base revision (``skyhaul@<commit>``) is one more row, and a line
  under the table gives current / base (``compare.comparison_lines``).
- ``write_readme`` keeps everything above the marker line untouched (hand-written text)
  and replaces everything below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.compare import comparison_lines
from benchmarks.machine import Machine
from benchmarks.results import ClientResult, FigureTable, ScenarioResult
from benchmarks.tools import SKYHAUL, Tool, is_skyhaul

__all__ = ["MARKER", "RunContext", "render", "sections", "write_readme"]

MARKER = "<!-- results below are generated -->"

_VERDICT = {"met": "✅ met", "missed": "❌ missed", "n/a": "➖ n/a"}
_MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class RunContext:
    """How and where the results were produced.

    Parameters
    ----------
    command : str
        The harness's command line.
    date : str
        When it ran (UTC).
    quick : bool
        Shrunk datasets (a smoke run).
    repeat : int
        Repetitions per client.
    machine : Machine
        The machine.
    tools : dict
        Every tool, available or not, by name.
    installs : list of str
        What the harness installed (or failed to).
    load : tuple of str
        Load averages before and after.
    startup : str
        skyhaul's start-up cost in words (empty: not measured).
    """

    command: str
    date: str
    quick: bool
    repeat: int
    machine: Machine
    tools: dict[str, Tool]
    installs: list[str]
    load: tuple[str, str]
    startup: str = ""


def render(context: RunContext, scenarios: Sequence[ScenarioResult]) -> str:
    """Return the whole generated Markdown (everything below the marker)."""
    compared = any(is_skyhaul(t) and t != SKYHAUL for s in scenarios for t in s.clients)
    parts = [_header(context), *(_scenario(s) for s in scenarios), _method(compared)]
    return "\n\n".join(parts).rstrip() + "\n"


def sections(scenarios: Sequence[ScenarioResult]) -> str:
    """The Markdown of ``scenarios`` alone (a benchmark run by itself prints this)."""
    return "\n\n".join(_scenario(s) for s in scenarios).rstrip() + "\n"


def write_readme(path: Path, generated: str, default_intro: str) -> None:
    """Replace what follows ``MARKER`` in ``path`` with ``generated``, keeping what precedes."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        text = default_intro
    intro = text.split(MARKER, 1)[0].rstrip()
    path.write_text(f"{intro}\n\n{MARKER}\n\n{generated}")


def _header(context: RunContext) -> str:
    mode = "quick smoke run (shrunk datasets)" if context.quick else "full size"
    lines = [
        "## Results",
        "",
        f"Generated {context.date} by `{context.command}`: {mode}, "
        f"{context.repeat} repetition(s) per client, medians shown.",
        f"Load average (1/5/15 min) before: {context.load[0]}, after: {context.load[1]}.",
    ]
    if context.quick:
        lines.append("Quick runs use smaller datasets: compare them with the targets loosely.")
    lines += ["", "### Machine", "", "| | |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in context.machine.lines()]
    lines += ["", "### Tools", "", "| tool | version or why missing |", "|---|---|"]
    for tool in context.tools.values():
        shown = tool.version if tool.available else f"**unavailable**: {tool.version}"
        lines.append(f"| {tool.name} | {_cell(shown)} |")
    if context.startup:
        lines += ["", f"skyhaul start-up alone (`skyhaul --help`, median): {context.startup}."]
    if context.installs:
        lines += ["", "Installed by the harness for this run:", ""]
        lines += [f"- {note}" for note in context.installs]
    return "\n".join(lines)


def _scenario(result: ScenarioResult) -> str:
    lines = [f"### ({result.key}) {result.title}", "", result.description, ""]
    if result.clients:
        lines += _table(result)
        lines += comparison_lines(result.clients, files_per_second=result.file_size < _MiB)
        for tool, client in result.clients.items():
            if is_skyhaul(tool):
                lines += _skyhaul_own_account(tool, client)
    for table in result.tables:
        lines += _figure_table(table)
    if result.extra:
        lines += ["| figure | value |", "|---|---:|"]
        lines += [f"| {key} | {_cell(_number(value))} |" for key, value in result.extra.items()]
        lines.append("")
    for tool, why in result.skipped.items():
        lines.append(f"- skipped {tool}: {_cell(why)}")
    if result.skipped:
        lines.append("")
    if result.targets:  # (s) compares clients and has none
        lines += ["Targets for skyhaul:", ""]
    for check in result.targets:
        lines.append(f"- {_VERDICT[check.verdict]}: {check.text} ({check.detail})")
    lines += _commands([c.command for c in result.clients.values()] + result.commands)
    for tool, client in result.clients.items():
        if is_skyhaul(tool):
            lines += _skyhaul_failures(tool, client)
    return "\n".join(lines).rstrip()


def _table(result: ScenarioResult) -> list[str]:
    large = result.file_size >= _MiB
    limited = any(c.refused_share is not None for c in result.clients.values())
    sky = result.clients.get(SKYHAUL)
    head = ["tool", "wall s (range)", "CPU s", "files ok", "MiB/s" if large else "files/s"]
    if limited:
        head += ["requests", "refused"]
    head += ["skyhaul ÷ tool (wall)", "exit codes", "issue's figure (full size)"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 2) + "---|"]
    for tool, c in result.clients.items():
        rate = c.files_per_second * result.file_size / _MiB if large else c.files_per_second
        row = [
            c.name,
            _wall_cell(c),
            f"{c.cpu:.2f}",
            f"{c.files_ok}/{c.files_total}",
            f"{rate:.0f}" if rate >= 10 else f"{rate:.1f}",
        ]
        if limited:
            share = c.refused_share
            row += [
                "" if c.requests is None else f"{c.requests:.0f}",
                "" if share is None else f"{100 * share:.0f}%",
            ]
        row += [
            "" if sky is None else f"{sky.wall / c.wall:.2f}",
            " ".join(str(code) for code in c.exit_codes),
            result.references.get(tool, ""),
        ]
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def _figure_table(table: FigureTable) -> list[str]:
    lines = [table.title, "", "| " + " | ".join(table.head) + " |"]
    lines.append("|---|" + "---:|" * (len(table.head) - 1))
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return [*lines, ""]


_SUMMARY_KEYS = ("downloaded", "failed", "abandoned", "bytes", "seconds")


def _skyhaul_own_account(tool: str, sky: ClientResult) -> list[str]:
    """skyhaul's own ``--json`` figures: its ``seconds`` against the wall shows start-up."""
    shown = []
    for run in sky.runs:
        if run.summary:
            figures = ", ".join(f"{k} {run.summary[k]}" for k in _SUMMARY_KEYS if k in run.summary)
            shown.append(f"{figures} (wall {run.measurement.wall:.2f} s)")
    if not shown:
        return [f"{tool} printed no `--json` summary.", ""]
    return [f"{tool}'s own `--json` summary per run: " + "; ".join(shown) + ".", ""]


def _wall_cell(client: ClientResult) -> str:
    """Median wall seconds, with the range when there were several runs (noise shows)."""
    walls = [r.measurement.wall for r in client.runs]
    if len(walls) == 1:
        return f"{client.wall:.2f}"
    return f"{client.wall:.2f} ({min(walls):.2f}–{max(walls):.2f})"


def _commands(commands: Sequence[str]) -> list[str]:
    if not commands:
        return []
    lines = ["", "<details><summary>Commands</summary>", "", "```", *commands]
    return [*lines, "```", "", "</details>"]


def _skyhaul_failures(tool: str, sky: ClientResult) -> list[str]:
    bad = [r for r in sky.runs if not r.clean or r.files_ok < sky.files_total]
    if not bad:
        return []
    lines = ["", f"{tool} runs that did not finish cleanly ({len(bad)} of {len(sky.runs)}):"]
    for run in bad:
        m = run.measurement
        status = "timed out" if m.timed_out else f"exit code {m.returncode}"
        lines += ["", f"- repetition {run.repetition + 1}: {status}, {run.files_ok} files ok"]
        if run.summary:
            keys = (*_SUMMARY_KEYS, "failures")
            shown = {k: run.summary[k] for k in keys if k in run.summary}
            lines.append(f"  - summary: `{_cell(str(shown))[:1500]}`")
        if run.stderr_tail:
            lines += ["", "  ```", *(f"  {line}" for line in run.stderr_tail.splitlines()), "  ```"]
    return lines


def _method(compared: bool = False) -> str:
    base = [
        "- `skyhaul@<commit>` (`--compare`) is the same venv's `skyhaul` with "
        "`PYTHONPATH` set to a worktree of that commit, its bytecode compiled first; it "
        "runs right after skyhaul, the two swapping places on every other repetition. "
        "Current ÷ base below 1 means the current tree is faster.",
    ]
    return "\n".join(
        [
            "### How it was measured",
            "",
            "- One nginx (one worker, sendfile, keep-alive) on 127.0.0.1 serves files from "
            "`/dev/shm`; every client writes to `/dev/shm`, so no disk is involved.",
            "- Clients alternate within each repetition (A B C, A B C, ...); output "
            "directories and skyhaul's SQLite catalog are emptied before every run.",
            "- Wall time is from start to exit of the client's process; CPU time is its user "
            "+ system time (including children it waited for), from `wait4`.",
            '- "files ok" is the worst repetition: files present with the right size and '
            "sha256, checked after each run, outside the timing. Only skyhaul verifies "
            "checksums during the run (scenario a).",
            "- The Python peers (parfive, the aiohttp loop) and skyhaul pay their interpreter's "
            "start-up and imports inside the timing, as a user does.",
            "- (d) counts requests and 429s from nginx's access log of the limited location; "
            "(g) from the simulator's own counters (`/_sim/stats`); (h) takes requests, 503s, "
            "drops and corruptions from those counters too, the faults set anew (and "
            "reseeded) before every run; (k) adds up the body bytes nginx logged for each "
            "request of the paced location, cut short or not.",
            *(base if compared else []),
        ]
    )


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
