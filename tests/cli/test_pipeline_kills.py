"""``skyhaul pipeline run`` SIGKILLed during each of its stages, then run again (issue 16,
section 3): nothing lost, nothing done twice, nothing deleted before its package was
ARCHIVED, no part file left behind.

Each case runs the stages before the one under test to completion, then the whole
pipeline in a subprocess, killed as soon as a sign of that stage's work shows (polled
with a deadline). Data size is what makes the work slow enough to catch: large files for
the stages that move bytes, many small packages for those that do not.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.services.observatory.conftest import Setup, assert_done_once, make_setup

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.operations import OperationKind, OperationStatus
from skyhaul.core.packages import PackageState
from skyhaul.core.paths import PART_SUFFIX
from skyhaul.core.placement import CopyStatus
from skyhaul.services.observatory.pipeline import DEFAULT_STAGES, STAGES

from .conftest import Invoke, WaitFor

Sign = Callable[[Setup], bool]

MB = 1 << 20


def _parts_under(name: str) -> Sign:
    """Some part file is being written under this directory of the setup's root."""
    return lambda setup: next((setup.root / name).rglob(f"*{PART_SUFFIX}"), None) is not None


def _operations(kind: OperationKind, *statuses: OperationStatus) -> Sign:
    """Operations of ``kind`` are in each of these statuses."""

    def sign(setup: Setup) -> bool:
        found = {op.status for op in setup.catalog.operations(kinds=[kind])}
        return set(statuses) <= found

    return sign


def _part_way(kind: OperationKind) -> Sign:
    """Some operations of ``kind`` were completed, others are still in hand."""
    return _operations(kind, OperationStatus.COMPLETED, OperationStatus.IN_PROGRESS)


def _all_of(*signs: Sign) -> Sign:
    return lambda setup: all(sign(setup) for sign in signs)


def _some_source_files_deleted(setup: Setup) -> bool:
    present = sum(setup.source_present(raw) for raw in setup.files)
    return 0 < present < len(setup.files)


@dataclass(frozen=True)
class Workload:
    """Raw files (count, smallest and largest size) and how they are packaged."""

    files: int
    sizes: tuple[int, int]
    max_package_size: str


#: A few large files, a package each: the stages that move bytes take a while.
BIG = Workload(8, (4 * MB, 8 * MB), "10MB")
#: Many small packages: the stages that only write small things take a while.
MANY = Workload(32, (512, 2048), "1KB")


@dataclass(frozen=True)
class KillCase:
    """When a run is killed (during ``stage``, once ``sign`` shows), on what data."""

    name: str
    stage: str
    sign: Sign
    work: Workload

    def __str__(self) -> str:
        return self.name


CASES = [
    KillCase("packaging-tar", "packaging", _parts_under("raw/.skyhaul"), BIG),
    KillCase("packaging-move", "packaging", _parts_under("buf1"), BIG),
    KillCase("transfer", "transfer", _parts_under("lta1"), BIG),
    KillCase("verify", "verify", _part_way(OperationKind.UNPACK_VERIFY), BIG),
    # Past the first batch, so the deletion stage has run beside unarchived packages.
    KillCase(
        "archive",
        "archive",
        _all_of(
            _part_way(OperationKind.ARCHIVE),
            _operations(OperationKind.DELETE, OperationStatus.COMPLETED),
        ),
        MANY,
    ),
    KillCase("deletion", "deletion", _some_source_files_deleted, MANY),
]


def _assert_nothing_deleted_early(setup: Setup) -> None:
    """Only files and tars of ARCHIVED packages were deleted, or are on their way."""
    packages = setup.catalog.packages()
    buffers = {b.id: setup.directory(b) for b in setup.buffers}
    archived = {m.file_id for p in packages if p.state is PackageState.ARCHIVED for m in p.members}
    for raw in setup.files:
        assert raw.id in archived or setup.source_present(raw), raw.path
    for package in packages:
        if package.state is PackageState.ARCHIVED:
            continue
        assert not setup.catalog.operations(package_id=package.id, kinds=[OperationKind.DELETE])
        for copy in setup.catalog.copies_of_package(package.id):
            assert copy.status is CopyStatus.PRESENT, package.name
            if copy.location in buffers:
                assert (buffers[copy.location] / copy.path).is_file(), package.name


def _run_killed(setup: Setup, case: KillCase, options: list[str], wait_for: WaitFor) -> None:
    """Run the whole pipeline in a subprocess; SIGKILL it once ``case``'s sign shows."""
    command = [sys.executable, "-m", "skyhaul.cli.app", "pipeline", "run", "--once", *options]
    log = setup.root / "killed.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:

        def signed() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the run ended before its {case.stage}: {log.read_text()}")
            return case.sign(setup)

        wait_for(signed, 20, f"the {case.stage} stage at work")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL, log.read_text()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_run_killed_during_a_stage_is_finished_by_a_rerun(
    case: KillCase, skyhaul: Invoke, catalog: Catalog, tmp_path: Path, wait_for: WaitFor
) -> None:
    setup = make_setup(catalog, tmp_path / "obs")
    setup.write_files(case.work.files, sizes=case.work.sizes)
    options = ["--retention", "0s", "--max-package-size", case.work.max_package_size]
    earlier = DEFAULT_STAGES[: DEFAULT_STAGES.index(case.stage)]
    if earlier:
        result = skyhaul("pipeline", "run", "--once", "--stages", ",".join(earlier), *options)
        assert result.exit_code == 0, result.output

    _run_killed(setup, case, options, wait_for)

    # The kill landed in the stage: some of its work was left in hand or not yet begun.
    kind = STAGES[case.stage].kind
    assert any(
        op.status is not OperationStatus.COMPLETED for op in catalog.operations(kinds=[kind])
    ), f"the run was killed after its {case.stage}"
    _assert_nothing_deleted_early(setup)

    result = skyhaul("pipeline", "run", "--once", "--json", *options)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["failures"] == []
    setup.assert_all_archived_and_cleaned()
    assert_done_once(catalog)
