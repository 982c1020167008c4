"""``benchmarks.run --compare REV``: the pure parts, with no server, network or timed run.

The harness's comparison of the current tree with another revision must name the base
tool by its commit, run it with the current tree's flags, alternate the two, state
current / base with the spread of the repetitions, and never write the README unless told.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from benchmarks import compare
from benchmarks.datasets import Offered
from benchmarks.peers import Job
from benchmarks.procs import Measurement
from benchmarks.results import ClientResult, RunRecord
from benchmarks.run import README, _parser, readme_target
from benchmarks.scenarios import transfer_scenarios
from benchmarks.tools import REPO, is_skyhaul

BASE = compare.Revision("HEAD~3", "0123456789abcdef0123456789abcdef01234567", "0123456")


def _client(name: str, walls: list[float], *, ok: int = 10) -> ClientResult:
    runs = tuple(
        RunRecord(index, Measurement(wall, wall / 2, 0, False), ok)
        for index, wall in enumerate(walls)
    )
    return ClientResult(name, "cmd", 10, runs)


def test_base_tool_is_named_by_its_short_commit() -> None:
    assert compare.base_name(BASE) == "skyhaul@0123456"
    assert is_skyhaul("skyhaul@0123456")
    assert is_skyhaul("skyhaul")
    assert not is_skyhaul("aria2c")


def test_compare_takes_a_revision_and_prints_only_unless_write() -> None:
    plain = _parser().parse_args(["--only", "a,b"])
    compared = _parser().parse_args(["--only", "a,b", "--compare", "HEAD~3"])
    written = _parser().parse_args(["--compare", "36f4095", "--write"])
    silent = _parser().parse_args(["--no-readme"])
    assert plain.compare is None
    assert readme_target(plain) == README
    assert compared.compare == "HEAD~3"
    assert readme_target(compared) is None
    assert readme_target(written) == README
    assert readme_target(silent) is None


def test_resolve_gives_the_commit_and_its_abbreviation() -> None:
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    revision = compare.resolve("HEAD")
    assert revision.commit == head
    assert head.startswith(revision.short)
    with pytest.raises(SystemExit, match="not a commit"):
        compare.resolve("no-such-revision-anywhere")


def test_the_base_runs_right_after_skyhaul_with_the_same_flags(tmp_path: Path) -> None:
    scenario = next(s for s in transfer_scenarios(quick=True) if s.key == "b")
    with_base = compare.with_base(scenario, "skyhaul@0123456")
    tools = [c.tool for c in with_base.clients]
    assert tools[:2] == ["skyhaul", "skyhaul@0123456"]
    assert tools[2:] == [c.tool for c in scenario.clients[1:]]
    current, base = with_base.clients[:2]
    assert base.name == "skyhaul@0123456 -j 16"
    offered = Offered(scenario.dataset, (), tmp_path / "urls.txt", tmp_path / "manifest.csv", ())
    job = Job(offered, tmp_path / "out", tmp_path / "scratch")
    assert base.argv("skyhaul", job) == current.argv("skyhaul", job)


def test_skyhaul_and_its_base_swap_places_every_other_repetition() -> None:
    scenario = next(s for s in transfer_scenarios(quick=True) if s.key == "a")
    clients = compare.with_base(scenario, "skyhaul@0123456").clients
    even = [c.tool for c in compare.run_order(clients, 0)]
    odd = [c.tool for c in compare.run_order(clients, 1)]
    assert even[:3] == ["skyhaul", "skyhaul@0123456", "curl"]
    assert odd[:3] == ["skyhaul@0123456", "skyhaul", "curl"]
    assert even[2:] == odd[2:]
    plain = [c.tool for c in compare.run_order(scenario.clients, 1)]
    assert plain == [c.tool for c in scenario.clients]


def test_ratio_line_gives_current_over_base_and_the_spread() -> None:
    clients = {
        "skyhaul": _client("skyhaul -j 16", [0.9, 1.8, 1.0]),
        "skyhaul@0123456": _client("skyhaul@0123456 -j 16", [1.0, 2.0, 1.25]),
    }
    (line, blank) = compare.comparison_lines(clients, files_per_second=True)
    assert blank == ""
    assert "skyhaul@0123456" in line
    assert "wall 1.00 s / 1.25 s = **0.80**" in line
    assert "CPU 0.50 s / 0.62 s" in line
    assert "files/s" in line
    assert "Wall per repetition: 0.90, 0.90, 0.80" in line
    assert "faster in every repetition" in line


def test_ratio_line_says_when_the_runs_disagree_or_files_are_missing() -> None:
    mixed = {
        "skyhaul": _client("skyhaul", [1.1, 0.9, 1.0]),
        "skyhaul@0123456": _client("base", [1.0, 1.0, 1.0]),
    }
    assert "mixed, within this run's noise" in compare.comparison_lines(mixed)[0]
    slower = {
        "skyhaul": _client("skyhaul", [1.2, 1.1]),
        "skyhaul@0123456": _client("base", [1.0, 1.0]),
    }
    assert "slower in every repetition" in compare.comparison_lines(slower)[0]
    broken = {
        "skyhaul": _client("skyhaul", [0.5, 0.5], ok=7),
        "skyhaul@0123456": _client("base", [1.0, 1.0]),
    }
    assert "no verdict: the current tree got 7 of 10" in compare.comparison_lines(broken)[0]
    assert compare.comparison_lines({"skyhaul": _client("skyhaul", [1.0])}) == []
