"""The simulator's manifests are what skyhaul's manifest reader expects."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from skyhaul.sim import MANIFEST_COLUMNS, RunningSim

manifest = pytest.importorskip("skyhaul.adapters.manifest")


def test_same_columns() -> None:
    assert manifest.MANIFEST_COLUMNS == MANIFEST_COLUMNS


@pytest.mark.parametrize("name", ["manifest.csv", "manifest.json"])
async def test_reader_accepts_the_manifests(
    running: RunningSim, session: aiohttp.ClientSession, tmp_path: Path, name: str
) -> None:
    async with session.get(running.base_url + "api/" + name) as response:
        (tmp_path / name).write_bytes(await response.read())
    specs = manifest.read_specs(tmp_path / name)
    listed = {e.path: e for e in running.files}
    assert len(specs) == len(listed)
    for spec in specs:
        entry = listed[spec.path]
        assert (spec.url, spec.size, spec.checksum) == (entry.url, entry.size, entry.checksum)
        assert spec.instrument == entry.version.file.instrument
        assert spec.obs_start == entry.version.file.obs_start
        assert spec.slot == entry.version.file.slot
