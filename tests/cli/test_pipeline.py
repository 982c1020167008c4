"""``skyhaul pipeline run`` (cli/pipeline.py): the whole pipeline on a small local setup,
exit codes, and a run killed (SIGKILL) mid-stage that a rerun finishes with nothing lost
or done twice."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.services.observatory.conftest import Setup, make_setup

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.operations import OperationKind
from skyhaul.core.packages import PackageState
from skyhaul.services.observatory.layout import archive_path

from .conftest import Invoke, WaitFor


def _assert_all_archived_and_cleaned(setup: Setup, catalog: Catalog) -> None:
    packages = catalog.packages()
    assert packages and {p.state for p in packages} == {PackageState.ARCHIVED}
    members = sorted(m.file_id for p in packages for m in p.members)
    assert members == sorted(f.id for f in setup.files)  # every file, in one package
    for package in packages:
        tar = setup.root / "lta1" / archive_path(package)
        assert hashlib.sha256(tar.read_bytes()).hexdigest() == package.sha256
        assert tar.with_name(tar.name + ".json").is_file()
    assert not any(setup.source_present(raw) for raw in setup.files)
    assert not list((setup.root / "buf1").rglob("*.tar"))


def test_once_runs_every_stage_and_exits_0(
    skyhaul: Invoke, catalog: Catalog, tmp_path: Path
) -> None:
    setup = make_setup(catalog, tmp_path / "obs")
    setup.write_files(6)
    result = skyhaul("pipeline", "run", "--once", "--retention", "0s", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["failures"] == [] and summary["stages"]["archive"]["done"] >= 4
    _assert_all_archived_and_cleaned(setup, catalog)


def test_bad_options_are_one_line_and_exit_2(skyhaul: Invoke, catalog: Catalog) -> None:
    result = skyhaul("pipeline", "run", "--once", "--stages", "packing")
    assert result.exit_code == 2 and "unknown stage" in result.output
    result = skyhaul("pipeline", "run", "--once", "--retention", "soon")
    assert result.exit_code == 2 and "--retention" in result.output


def test_a_run_killed_mid_stage_is_finished_by_a_rerun(
    skyhaul: Invoke, catalog: Catalog, catalog_url: str, tmp_path: Path, wait_for: WaitFor
) -> None:
    setup = make_setup(catalog, tmp_path / "obs")
    setup.write_files(40)
    command = [
        sys.executable,
        "-m",
        "skyhaul.cli.app",
        "pipeline",
        "run",
        "--once",
        "--retention",
        "0s",
        "--max-package-size",
        "20KB",
    ]
    process = subprocess.Popen(
        command, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        def transferring() -> bool:
            with open_catalog(catalog_url) as watching:
                return bool(watching.operations(kinds=[OperationKind.UNPACK_VERIFY]))

        wait_for(transferring, 20, "the first package at the archive")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert any(p.state is not PackageState.ARCHIVED for p in catalog.packages())

    result = skyhaul("pipeline", "run", "--once", "--retention", "0s", "--max-package-size", "20KB")
    assert result.exit_code == 0, result.output
    _assert_all_archived_and_cleaned(setup, catalog)
