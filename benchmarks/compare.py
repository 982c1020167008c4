"""``--compare REV``: skyhaul at another git revision, timed in the same run as this tree.

The issue asks that (a) and (b) do not get slower from one commit to the next. Numbers from
different runs on a shared 2-core machine differ by more than most changes do, so the base
revision runs in the same run as the current tree, alternating with it, and the report
gives the ratio of the two.

Rules:
- ``REV`` is anything git resolves to a commit (``HEAD~3``, ``36f4095``, a branch). Its
  tree is checked out, detached, as a git worktree of this repository under
  ``bench-data/compare/<commit>`` (``bench-data/`` is git-ignored), and reused by later
  runs: a reused worktree is reset to the commit, its compiled bytecode kept.
- The base runs as the current tree does: the same interpreter and venv, the same
  ``skyhaul`` script and flags, its bytecode compiled first (``Installer.bytecode``); only
  ``PYTHONPATH=<worktree>/src`` differs, which puts its package ahead of the editable
  install. The harness checks that the base really imports from there.
- It is one more client, ``skyhaul@<short commit>``, placed right after skyhaul in each
  transfer scenario (a, b, b20, d), in the fault runs (h) and in the kill runs (k). The
  two swap places on every other repetition, so neither always runs in the same position
  relative to the other clients.
- The report gives, per scenario, current / base for the medians (wall, CPU) and for each
  repetition's pair of runs, so the run's noise shows next to the ratio.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import skyhaul
from benchmarks.install import Installer
from benchmarks.peers import Client
from benchmarks.procs import capture, last_line
from benchmarks.results import ClientResult
from benchmarks.scenarios import TransferScenario
from benchmarks.tools import REPO, SKYHAUL, Tool, is_skyhaul

__all__ = [
    "Revision",
    "base_name",
    "base_tool",
    "checkout",
    "comparison_lines",
    "prepare",
    "resolve",
    "run_order",
    "with_base",
    "with_base_clients",
]

#: Where base worktrees live (git-ignored), one directory per commit.
CACHE = REPO / "bench-data" / "compare"
_GIT_TIMEOUT = 300.0


@dataclass(frozen=True, slots=True)
class Revision:
    """The base revision of a comparison.

    Parameters
    ----------
    spec : str
        As given on the command line (``HEAD~3``).
    commit : str
        The full commit id it resolved to.
    short : str
        git's abbreviation of ``commit`` (shown in the tool's name).
    """

    spec: str
    commit: str
    short: str


def base_name(revision: Revision) -> str:
    """The tool's name for skyhaul at ``revision``: ``skyhaul@<short commit>``."""
    return f"{SKYHAUL}@{revision.short}"


def resolve(spec: str, repo: Path = REPO) -> Revision:
    """Resolve ``spec`` to a commit of ``repo``; exit with git's reason if it names none."""
    code, commit = capture(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"]
    )
    if code != 0 or not commit:
        raise SystemExit(f"--compare: {spec!r} is not a commit of {repo}")
    code, short = capture(["git", "-C", str(repo), "rev-parse", "--short", commit])
    return Revision(spec, commit, short if code == 0 and short else commit[:7])


def checkout(revision: Revision, cache: Path = CACHE, repo: Path = REPO) -> tuple[Path, str]:
    """Check ``revision`` out as a detached worktree under ``cache``, or reuse the one there.

    Returns the worktree and a line saying what was done. A directory that is not a
    worktree at the commit is removed and checked out again; a reused one is reset to the
    commit (tracked files as committed, untracked bytecode kept).
    """
    path = cache / revision.commit[:12]
    if _head(path) == revision.commit:
        code, output = capture(
            ["git", "-C", str(path), "reset", "--hard", "--quiet", revision.commit]
        )
        if code == 0:
            return path, f"reusing the worktree of {revision.short} at {path}"
        _remove(path, repo, why=last_line(output))
    elif path.exists():
        _remove(path, repo, why="not a worktree at the commit")
    path.parent.mkdir(parents=True, exist_ok=True)
    add = ["worktree", "add", "--force", "--detach", str(path), revision.commit]
    code, output = capture(["git", "-C", str(repo), *add], timeout=_GIT_TIMEOUT)
    if code != 0:
        raise SystemExit(f"--compare: git worktree add failed: {last_line(output)}")
    return path, f"checked out {revision.short} ({revision.spec}) at {path}"


def base_tool(revision: Revision, worktree: Path, installer: Installer) -> Tool:
    """skyhaul at ``revision``: this venv's ``skyhaul`` script, importing ``worktree/src``.

    Its bytecode is compiled first, as for the current tree. It is available only when
    ``skyhaul --help`` succeeds and ``import skyhaul`` finds the worktree's package.
    """
    name = base_name(revision)
    src = worktree / "src"
    package = src / SKYHAUL
    script = Path(sys.executable).parent / SKYHAUL
    if not package.is_dir():
        return Tool(name, None, f"no {package} at {revision.short}")
    if not script.exists():
        return Tool(name, None, f"no {script} (pip install -e . first)")
    installer.bytecode(package, label=name)
    env = {"PYTHONPATH": str(src)}
    full_env = {**os.environ, **env}
    code, output = capture(
        [sys.executable, "-c", "import skyhaul; print(skyhaul.__file__)"], env=full_env
    )
    if code != 0 or not Path(last_line(output)).is_relative_to(package):
        return Tool(name, None, f"`import skyhaul` finds {last_line(output)}, not {package}")
    code, output = capture([str(script), "--help"], timeout=60, env=full_env)
    if code != 0:
        return Tool(name, None, f"`skyhaul --help` exits {code}: {last_line(output)}")
    version = f"skyhaul at git {revision.short} (`--compare {revision.spec}`), from {src}"
    return Tool(name, str(script), version, env=env)


def prepare(spec: str, installer: Installer, say: Callable[[str], None]) -> Tool:
    """skyhaul at revision ``spec``, checked out and compiled; exit if it cannot run.

    Warns when the current tree's skyhaul is not this checkout's ``src`` (an editable
    install of another checkout, without ``PYTHONPATH``): the comparison would then not
    be of this checkout.
    """
    here = Path(skyhaul.__file__).resolve()
    if not here.is_relative_to(REPO / "src"):
        say(f"--compare: warning: the current skyhaul is {here}, not under {REPO / 'src'}")
    revision = resolve(spec)
    worktree, done = checkout(revision)
    say(f"--compare: {done}")
    tool = base_tool(revision, worktree, installer)
    if not tool.available:
        raise SystemExit(f"--compare: {tool.name} cannot run: {tool.version}")
    say(f"--compare: {tool.name} is {tool.version}")
    return tool


def with_base(scenario: TransferScenario, name: str) -> TransferScenario:
    """``scenario`` with a client for tool ``name`` right after skyhaul's, same flags."""
    return replace(scenario, clients=with_base_clients(scenario.clients, name))


def with_base_clients(clients: Sequence[Client], name: str | None) -> tuple[Client, ...]:
    """``clients`` with one for tool ``name`` right after each of skyhaul's, same flags.

    ``name`` ``None`` (no ``--compare``) leaves them as they are.
    """
    if name is None:
        return tuple(clients)
    made: list[Client] = []
    for client in clients:
        made.append(client)
        if client.tool == SKYHAUL:
            label = client.name.replace(SKYHAUL, name, 1)
            made.append(Client(label, name, client.argv, client.variant))
    return tuple(made)


def run_order(clients: Sequence[Client], repetition: int) -> list[Client]:
    """The clients in the order of ``repetition``: skyhaul and its base swap on odd ones.

    Without a base client right after skyhaul, the order is the harness's usual one.
    """
    order = list(clients)
    if repetition % 2 == 1:
        for index in range(len(order) - 1):
            first, second = order[index], order[index + 1]
            if first.tool == SKYHAUL and is_skyhaul(second.tool) and second.tool != SKYHAUL:
                order[index], order[index + 1] = second, first
                break
    return order


def comparison_lines(
    clients: Mapping[str, ClientResult], files_per_second: bool = False
) -> list[str]:
    """Markdown lines: current / base for each base client in ``clients`` (none: ``[]``).

    Parameters
    ----------
    clients : mapping
        A scenario's results by tool; the current tree is ``skyhaul``, a base is
        ``skyhaul@<commit>``.
    files_per_second : bool
        Also give the ratio of files per second (scenarios of many files).
    """
    current = clients.get(SKYHAUL)
    lines: list[str] = []
    for tool, base in clients.items():
        if tool == SKYHAUL or not is_skyhaul(tool) or current is None:
            continue
        lines.append(_ratio_line(tool, current, base, files_per_second))
    return [*lines, ""] if lines else []


def _ratio_line(tool: str, current: ClientResult, base: ClientResult, rate: bool) -> str:
    paired = [
        ours.measurement.wall / theirs.measurement.wall
        for ours, theirs in zip(current.runs, base.runs, strict=False)
    ]
    wall = current.wall / base.wall
    figures = [
        f"wall {current.wall:.2f} s / {base.wall:.2f} s = **{wall:.2f}**",
        f"CPU {current.cpu:.2f} s / {base.cpu:.2f} s = {current.cpu / base.cpu:.2f}",
    ]
    if rate and base.files_per_second > 0:
        ratio = current.files_per_second / base.files_per_second
        figures.append(
            f"files/s {current.files_per_second:.0f} / {base.files_per_second:.0f} = {ratio:.2f}"
        )
    each = ", ".join(f"{r:.2f}" for r in paired)
    return (
        f"Current tree against {tool} (current ÷ base; wall below 1: the current tree is "
        f"faster): {'; '.join(figures)}. Wall per repetition: {each}; "
        f"{verdict(paired, current, base)}."
    )


def verdict(paired: Sequence[float], current: ClientResult, base: ClientResult) -> str:
    """One phrase on the paired wall ratios: slower or faster in every repetition, or mixed.

    A run with missing files says so instead: its time does not compare.
    """
    for label, result in (("current", current), ("base", base)):
        if result.files_ok < result.files_total:
            return f"no verdict: the {label} tree got {result.files_ok} of {result.files_total}"
    if not paired:
        return "no runs"
    if len(paired) == 1:
        return "one repetition: no spread to judge noise by (use --repeat 3 or more)"
    spread = f"median {statistics.median(paired):.2f}, range {min(paired):.2f}–{max(paired):.2f}"
    if min(paired) > 1:
        return f"slower in every repetition ({spread})"
    if max(paired) < 1:
        return f"faster in every repetition ({spread})"
    return f"mixed, within this run's noise ({spread})"


def _head(path: Path) -> str | None:
    if not (path / ".git").exists():
        return None
    code, head = capture(["git", "-C", str(path), "rev-parse", "HEAD"])
    return head if code == 0 else None


def _remove(path: Path, repo: Path, *, why: str) -> None:
    """Remove a broken base worktree (git's record of it too) before checking out again."""
    print(f"--compare: removing {path}: {why}", file=sys.stderr, flush=True)
    capture(["git", "-C", str(repo), "worktree", "remove", "--force", str(path)])
    shutil.rmtree(path, ignore_errors=True)  # ``worktree add --force`` reuses git's record
