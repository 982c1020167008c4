"""Copies made from the verified local copy, and what happens when that copy is damaged."""

from __future__ import annotations

import hashlib
from pathlib import Path

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.local_copies import LocalCopies
from skyhaul.core.copies import CopyState
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import TransferOptions
from skyhaul.services.acquire import run_download
from skyhaul.services.copies import make_copies
from skyhaul.services.verify import check_stored
from skyhaul.sim.thread import SimThread

from .conftest import NOW, specs_from


async def test_a_damaged_original_is_fetched_again_and_then_copied(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    [spec] = specs_from(sim)[:1]
    catalog.register([spec], str(tmp_path / "a"), now=NOW)
    assert (await run_download(catalog, TransferOptions())).downloaded == 1
    original = tmp_path / "a" / spec.path
    data = bytearray(original.read_bytes())
    data[0] ^= 0xFF  # the same size: only its hash tells
    original.write_bytes(bytes(data))
    catalog.register([spec], str(tmp_path / "b"), now=NOW, copies=True)
    report = make_copies(catalog, LocalCopies(), now=lambda: NOW)
    assert (report.made, report.damaged, report.failures) == (0, 1, [])
    [record] = catalog.list_files()
    assert record.state is FileState.FAILED and record.last_error is not None
    assert [p for p in (tmp_path / "b").rglob("*") if p.is_file()] == []
    # The next download fetches it from the network; then the copy is made from it.
    assert (await run_download(catalog, TransferOptions())).downloaded == 1
    assert make_copies(catalog, LocalCopies()).made == 1
    copied = (tmp_path / "b" / spec.path).read_bytes()
    assert spec.checksum == "sha256:" + hashlib.sha256(copied).hexdigest()
    [copy] = catalog.copies_of([record.id])[record.id]
    assert copy.state is CopyState.PRESENT


async def test_a_damaged_copy_is_found_by_verify_and_made_again(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    [spec] = specs_from(sim)[:1]
    catalog.register([spec], str(tmp_path / "a"), now=NOW)
    await run_download(catalog, TransferOptions())
    catalog.register([spec], str(tmp_path / "b"), now=NOW, copies=True)
    assert make_copies(catalog, LocalCopies()).made == 1
    copy_path = tmp_path / "b" / spec.path
    copy_path.write_bytes(copy_path.read_bytes()[::-1])
    report = check_stored(catalog, LocalCopies(), thorough=True)
    assert (report.checked, report.ok, report.changed) == (2, 1, 1)
    assert report.damaged[0].copy.copy_id is not None
    assert catalog.list_files()[0].state is FileState.DOWNLOADED  # the original is fine
    assert make_copies(catalog, LocalCopies()).made == 1
    assert check_stored(catalog, LocalCopies(), thorough=True).ok == 2
