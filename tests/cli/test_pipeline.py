"""``skyhaul pipeline run`` (cli/pipeline.py): the whole pipeline on a small local setup,
and its exit codes: 0 when done, 2 for bad options, 1 when a package failed for good (which
``skyhaul packages`` shows with its error). Runs killed mid-stage: test_pipeline_kills.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.services.observatory.conftest import make_setup

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.operations import OperationKind, OperationStatus
from skyhaul.core.packages import PackageState
from skyhaul.services.observatory.pipeline import DEFAULT_STAGES

from .conftest import Invoke


def test_once_runs_every_stage_and_exits_0(
    skyhaul: Invoke, catalog: Catalog, tmp_path: Path
) -> None:
    setup = make_setup(catalog, tmp_path / "obs")
    setup.write_files(6)
    result = skyhaul("pipeline", "run", "--once", "--retention", "0s", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["failures"] == [] and summary["stages"]["archive"]["done"] >= 4
    assert tuple(summary["stages"]) == DEFAULT_STAGES  # staging only when named
    setup.assert_all_archived_and_cleaned()
    staging = skyhaul("pipeline", "run", "--once", "--stages", "staging", "--json")
    assert staging.exit_code == 0, staging.output
    assert json.loads(staging.stdout)["stages"] == {
        "staging": {"done": 0, "retried": 0, "failed": 0}
    }


def test_bad_options_are_one_line_and_exit_2(skyhaul: Invoke, catalog: Catalog) -> None:
    result = skyhaul("pipeline", "run", "--once", "--stages", "packing")
    assert result.exit_code == 2 and "unknown stage" in result.output
    result = skyhaul("pipeline", "run", "--once", "--retention", "soon")
    assert result.exit_code == 2 and "--retention" in result.output


def test_a_package_failed_for_good_exits_1_and_shows_in_packages_with_its_error(
    skyhaul: Invoke, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = make_setup(catalog, tmp_path / "obs")
    files = setup.write_files(6)
    changed = setup.source_dir / files[0].path
    data = bytearray(changed.read_bytes())
    data[0] ^= 0xFF  # changed since it was registered: every tar of it is wrong
    changed.write_bytes(bytes(data))

    result = skyhaul("pipeline", "run", "--once", "--retention", "0s", "--json")

    assert result.exit_code == 1, result.output
    [failed] = catalog.packages([PackageState.FAILED])
    assert failed.error is not None and files[0].path in failed.error
    assert "differ from the catalog's checksums" in failed.error
    assert json.loads(result.stdout)["failures"] == [
        {"kind": "create_package", "package": failed.name, "error": failed.error}
    ]
    [operation] = catalog.operations(package_id=failed.id)
    assert operation.kind is OperationKind.CREATE_PACKAGE
    assert (operation.status, operation.retries) == (OperationStatus.FAILED, 3)
    docs = json.loads(skyhaul("packages", "--state", "failed", "--json").stdout)
    assert [(d["name"], d["state"], d["error"]) for d in docs] == [
        (failed.name, "FAILED", failed.error)
    ]
    monkeypatch.setenv("COLUMNS", "300")  # a wide terminal: the error is on one line
    table = skyhaul("packages").stdout
    [row] = [line for line in table.splitlines() if failed.name in line]
    assert "FAILED" in row and "differ from the catalog's checksums" in row
    # The rest was archived; the failed package's files are all kept at the source.
    others = [p for p in catalog.packages() if p.id != failed.id]
    assert others and {p.state for p in others} == {PackageState.ARCHIVED}
    kept = {m.file_id for m in failed.members}
    assert all(setup.source_present(raw) for raw in files[1:] if raw.id in kept)
    assert changed.read_bytes() == bytes(data)
