"""What a benchmark run by itself needs: its options, tools, work directory and output.

``python -m benchmarks.bench_faults`` and ``python -m benchmarks.bench_kill`` run one
scenario outside ``benchmarks.run``: they find the tools as it does (never installing
any), compile skyhaul's bytecode as a ``pip install`` leaves it, check out ``--compare
REV`` as it does, work in a temporary directory under ``/dev/shm`` (removed afterwards)
and print their sections as the README would show them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import skyhaul
from benchmarks import compare
from benchmarks.install import Installer
from benchmarks.report import sections
from benchmarks.results import ScenarioResult
from benchmarks.tools import Tool, find_tools

__all__ = ["Session", "add_arguments", "render", "run_alone", "say", "session"]

_SHM = Path("/dev/shm")


@dataclass(frozen=True, slots=True)
class Session:
    """The tools (with the base revision's under its name), the base's name, the work
    directory and the repetitions of a standalone run."""

    tools: dict[str, Tool]
    base: str | None
    work: Path
    repeat: int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--quick``, ``--repeat N`` and ``--compare REV``, as ``benchmarks.run`` takes them."""
    parser.add_argument("--quick", action="store_true", help="small datasets, 1 repetition")
    parser.add_argument("--repeat", type=int, metavar="N", help="repetitions (default 3, quick 1)")
    parser.add_argument("--compare", metavar="REV", help="also run skyhaul at git revision REV")


@contextmanager
def session(
    args: argparse.Namespace, *, prefix: str, say: Callable[[str], None]
) -> Iterator[Session]:
    """Tools found, base revision prepared, a scratch directory for the life of the block."""
    installer = Installer(allowed=False, say=say)
    tools = find_tools(installer)
    installer.bytecode(Path(skyhaul.__file__).parent)
    base = None
    if args.compare:
        tool = compare.prepare(args.compare, installer, say)
        tools[tool.name] = tool
        base = tool.name
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    where = _SHM if _SHM.is_dir() else None
    with tempfile.TemporaryDirectory(prefix=prefix, dir=where) as directory:
        Path(directory).chmod(0o755)  # nginx's workers drop root: they must read the files
        yield Session(tools, base, Path(directory), max(1, repeat))


def render(results: Sequence[ScenarioResult]) -> str:
    """The sections' Markdown."""
    return sections(results)


def say(line: str) -> None:
    """A progress line on stderr."""
    print(line, file=sys.stderr, flush=True)


class Scenario(Protocol):
    """A scenario's entry point, as ``bench_faults.scenario`` and ``bench_kill.scenario``."""

    def __call__(
        self,
        *,
        quick: bool,
        repeat: int,
        work: Path,
        root: Path,
        tools: dict[str, Tool],
        base: str | None,
        say: Callable[[str], None],
    ) -> ScenarioResult | list[ScenarioResult]: ...


def run_alone(argv: list[str] | None, doc: str | None, prefix: str, scenario: Scenario) -> None:
    """Parse the standalone options, run ``scenario`` in a session, print its sections."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    add_arguments(parser)
    args = parser.parse_args(argv)
    with session(args, prefix=prefix, say=say) as opened:
        results = scenario(
            quick=args.quick,
            repeat=opened.repeat,
            work=opened.work / "runs",
            root=opened.work / "srv",
            tools=opened.tools,
            base=opened.base,
            say=say,
        )
    print(render(results if isinstance(results, list) else [results]))
