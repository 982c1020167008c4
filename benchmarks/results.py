"""What the runs produced, reduced to medians, and the checks of the issue's targets.

Rules:
- Times, rates and refusal shares are medians over repetitions; correctness ("files ok",
  exit codes, catalog counts) is the worst repetition, so one bad run shows.
- A target check is ``met``, ``missed`` or ``n/a`` (a tool or figure is missing), always
  with the numbers it compared.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from benchmarks.procs import Measurement
from benchmarks.servers import RequestCount

__all__ = [
    "ClientResult",
    "FigureTable",
    "RunRecord",
    "ScenarioResult",
    "TargetCheck",
    "check_all_ok",
    "check_at_most",
    "check_rate_ratio",
    "check_wall_ratio",
    "fastest",
]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of one client.

    Parameters
    ----------
    repetition : int
        0-based repetition index.
    measurement : Measurement
        Wall, CPU, exit code, timeout.
    files_ok : int
        Files found complete and correct afterwards.
    requests : RequestCount or None
        Requests and 429s the rate-limited location saw during the run.
    summary : dict or None
        skyhaul's ``--json`` document, when it printed one.
    catalog_downloaded : int or None
        Files skyhaul's catalog holds as DOWNLOADED after the run.
    stderr_tail : str
        Last lines of the client's stderr.
    """

    repetition: int
    measurement: Measurement
    files_ok: int
    requests: RequestCount | None = None
    summary: dict[str, object] | None = None
    catalog_downloaded: int | None = None
    stderr_tail: str = ""

    @property
    def clean(self) -> bool:
        """Exit code 0 and no timeout."""
        return self.measurement.returncode == 0 and not self.measurement.timed_out


@dataclass(frozen=True, slots=True)
class ClientResult:
    """Every run of one client in one scenario.

    Parameters
    ----------
    name : str
        The client's label (tool and flags).
    command : str
        The command line of its last run, shell-quoted.
    files_total : int
        Files each run had to fetch.
    runs : tuple of RunRecord
        In repetition order.
    """

    name: str
    command: str
    files_total: int
    runs: tuple[RunRecord, ...]

    @property
    def wall(self) -> float:
        """Median wall seconds."""
        return statistics.median(r.measurement.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        """Median CPU seconds (user + system)."""
        return statistics.median(r.measurement.cpu for r in self.runs)

    @property
    def files_ok(self) -> int:
        """Fewest files ok in any run."""
        return min(r.files_ok for r in self.runs)

    @property
    def files_per_second(self) -> float:
        """Median of files ok per wall second."""
        return statistics.median(r.files_ok / r.measurement.wall for r in self.runs)

    @property
    def refused_share(self) -> float | None:
        """Median share of requests refused with 429 (``None``: not counted)."""
        counts = [r.requests for r in self.runs if r.requests is not None]
        return statistics.median(c.refused_share for c in counts) if counts else None

    @property
    def requests(self) -> float | None:
        """Median number of requests sent to the rate-limited location."""
        counts = [r.requests for r in self.runs if r.requests is not None]
        return statistics.median(c.requests for c in counts) if counts else None

    @property
    def exit_codes(self) -> list[int]:
        """Exit code of each run (``-1`` when it timed out)."""
        return [-1 if r.measurement.timed_out else r.measurement.returncode for r in self.runs]


@dataclass(frozen=True, slots=True)
class TargetCheck:
    """One target of the issue, checked.

    Parameters
    ----------
    text : str
        The target in words.
    verdict : str
        ``met``, ``missed`` or ``n/a``.
    detail : str
        The numbers compared, or why it could not be checked.
    """

    text: str
    verdict: str
    detail: str


@dataclass(frozen=True, slots=True)
class FigureTable:
    """A table of a scenario's own figures, besides its clients' (one per setting, say).

    Parameters
    ----------
    title : str
        A line above the table.
    head : tuple of str
        Column names; the first column is text, the others numbers (right-aligned).
    rows : tuple of tuple of str
        The cells, already formatted.
    """

    title: str
    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass
class ScenarioResult:
    """Everything one scenario produced.

    Parameters
    ----------
    key, title : str
        ``a`` .. ``d`` and a one-line title.
    description : str
        What the scenario measures.
    clients : dict
        Results by tool name (``curl``, ``skyhaul``, ...), in run order.
    skipped : dict
        Why each tool that did not run was skipped, by tool name.
    targets : list of TargetCheck
        The issue's targets for skyhaul.
    extra : dict
        Scenario-specific figures (the catalog benchmark's numbers).
    tables : list of FigureTable
        Scenario-specific tables, shown before ``extra``.
    references : dict
        The issue author's figure for each tool, in words.
    file_size : int
        Bytes per file (0 when the scenario transfers nothing).
    commands : list of str
        Commands run besides the clients' own (a rerun after a kill), shown with theirs.
    """

    key: str
    title: str
    description: str
    clients: dict[str, ClientResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    targets: list[TargetCheck] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)
    tables: list[FigureTable] = field(default_factory=list)
    references: dict[str, str] = field(default_factory=dict)
    file_size: int = 0
    commands: list[str] = field(default_factory=list)


def fastest(
    results: Mapping[str, ClientResult], keys: Iterable[str]
) -> tuple[str, ClientResult | None]:
    """The client with the most files per second among ``keys`` that ran, and its label.

    A target against a peer with several settings (parfive's ``max_splits``) is stated
    against its strongest one. A client that missed files does not count as fastest
    unless none got them all. With none of ``keys`` present: the first key and ``None``.
    """
    wanted = tuple(keys)
    present = [results[key] for key in wanted if key in results]
    if not present:
        return (wanted[0] if wanted else "?"), None
    complete = [r for r in present if r.files_ok == r.files_total] or present
    best = max(complete, key=lambda r: r.files_per_second)
    return best.name, best


def _verdict(ok: bool) -> str:
    return "met" if ok else "missed"


def _not_run(text: str, *named: tuple[str, ClientResult | None]) -> TargetCheck:
    absent = [name for name, result in named if result is None]
    return TargetCheck(text, "n/a", f"{' and '.join(absent)} did not run")


def _incomplete(text: str, ours: ClientResult) -> TargetCheck | None:
    """A speed target is missed when skyhaul did not fetch everything, however fast it was."""
    if ours.files_ok < ours.files_total:
        return TargetCheck(
            text, "missed", f"skyhaul got only {ours.files_ok} of {ours.files_total} files"
        )
    return None


def check_wall_ratio(
    text: str, ours: ClientResult | None, ref_name: str, ref: ClientResult | None, limit: float
) -> TargetCheck:
    """skyhaul's median wall over ``ref``'s must be at most ``limit``."""
    if ours is None or ref is None:
        return _not_run(text, ("skyhaul", ours), (ref_name, ref))
    if incomplete := _incomplete(text, ours):
        return incomplete
    ratio = ours.wall / ref.wall
    detail = (
        f"skyhaul {ours.wall:.2f} s / {ref_name} {ref.wall:.2f} s = {ratio:.2f} "
        f"(need ≤ {limit:.2f})"
    )
    return TargetCheck(text, _verdict(ratio <= limit), detail)


def check_rate_ratio(
    text: str, ours: ClientResult | None, ref_name: str, ref: ClientResult | None, least: float
) -> TargetCheck:
    """skyhaul's median files per second over ``ref``'s must be at least ``least``."""
    if ours is None or ref is None:
        return _not_run(text, ("skyhaul", ours), (ref_name, ref))
    if incomplete := _incomplete(text, ours):
        return incomplete
    if ref.files_per_second == 0:
        return TargetCheck(text, _verdict(ours.files_per_second > 0), f"{ref_name}: 0 files/s")
    ratio = ours.files_per_second / ref.files_per_second
    detail = (
        f"skyhaul {ours.files_per_second:.0f} files/s / {ref_name} "
        f"{ref.files_per_second:.0f} files/s = {ratio:.2f} (need ≥ {least:.2f})"
    )
    return TargetCheck(text, _verdict(ratio >= least), detail)


def check_all_ok(
    text: str, ours: ClientResult | None, *, counted: Callable[[RunRecord], int | None]
) -> TargetCheck:
    """Every run must exit 0 and ``counted(run)`` must equal the files to fetch."""
    if ours is None:
        return _not_run(text, ("skyhaul", ours))
    counts = [counted(r) for r in ours.runs]
    ok = all(r.clean for r in ours.runs) and all(c == ours.files_total for c in counts)
    shown = ", ".join("?" if c is None else str(c) for c in counts)
    detail = f"{shown} of {ours.files_total} per run; exit codes {ours.exit_codes}"
    return TargetCheck(text, _verdict(ok), detail)


def check_at_most(
    text: str,
    value: float | None,
    limit: float,
    unit: str,
    *,
    ours: ClientResult | None = None,
) -> TargetCheck:
    """A measured ``value`` must be at most ``limit`` (and ``ours``, if given, complete)."""
    if value is None:
        return TargetCheck(text, "n/a", "not measured")
    if ours is not None and (incomplete := _incomplete(text, ours)):
        return incomplete
    return TargetCheck(
        text, _verdict(value <= limit), f"{value:.3g} {unit} (need ≤ {limit:.3g} {unit})"
    )
