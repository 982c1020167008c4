"""Planning a download run's processes (``services.runs``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.model import TransferOptions
from skyhaul.errors import UsageError
from skyhaul.services.runs import DownloadSpec, _plan


def test_processes_need_the_files_in_the_catalog_first(tmp_path: Path) -> None:
    spec = DownloadSpec(TransferOptions(), processes=2, discovery=object())  # type: ignore[arg-type]
    with open_catalog(f"sqlite:///{tmp_path / 'c.db'}") as catalog:
        with pytest.raises(UsageError, match="discover"):
            _plan(catalog, spec)


def test_an_in_memory_catalog_keeps_one_process(caplog: pytest.LogCaptureFixture) -> None:
    with open_catalog("sqlite://") as catalog:
        plan = _plan(catalog, DownloadSpec(TransferOptions(), processes=2))
    assert plan.count == 1
    assert "one engine process: an in-memory catalog belongs to one process" in caplog.text
