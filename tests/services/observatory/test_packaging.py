"""Packaging (services.observatory.packaging): unpackaged files grouped, each tar written
at the source and moved to the site's primary buffer, failing over to the next."""

from __future__ import annotations

from pathlib import Path

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.packages import PackageState
from skyhaul.errors import DiskError
from skyhaul.services.observatory.pipeline import run_pipeline
from skyhaul.services.observatory.stagework import Storages

from .conftest import START, Faults, ManualClock, faulty_storages, make_setup


async def _package(catalog: Catalog, storages: Storages | None = None) -> None:
    try:
        summary = await run_pipeline(
            catalog, ["packaging"], once=True, clock=ManualClock().clock, storages=storages
        )
    finally:
        if storages is not None:
            await storages.aclose()
    assert not summary.failures


async def test_tars_go_to_the_primary_buffer(catalog: Catalog, tmp_path: Path) -> None:
    setup = make_setup(catalog, tmp_path, buffers=2)
    setup.write_files(6)
    await _package(catalog)
    packages = setup.packages()
    names = sorted(f"packages/{p.name}" for p in packages)
    assert setup.present_copies(setup.buffers[0]) == names
    assert setup.present_copies(setup.buffers[1]) == []
    assert sorted(m.file_id for p in packages for m in p.members) == sorted(
        f.id for f in setup.files
    )
    for package in packages:  # recorded, and the source's tar is gone
        assert package.sha256 and package.size
        assert not (setup.source_dir / ".skyhaul" / "packages" / package.name).exists()
        assert (tmp_path / "buf1" / "packages" / package.name).stat().st_size == package.size


async def test_an_inactive_primary_fails_over_to_the_next_buffer(
    catalog: Catalog, tmp_path: Path
) -> None:
    setup = make_setup(catalog, tmp_path, buffers=2)
    setup.write_files(4)
    catalog.set_location_active("obs", "buf1", False, now=START)
    await _package(catalog)
    names = sorted(f"packages/{p.name}" for p in setup.packages())
    assert setup.present_copies(setup.buffers[0]) == []
    assert setup.present_copies(setup.buffers[1]) == names


async def test_a_primary_that_fails_fails_over_to_the_next_buffer(
    catalog: Catalog, tmp_path: Path
) -> None:
    setup = make_setup(catalog, tmp_path, buffers=2)
    setup.write_files(4)
    faults = Faults()

    def full(operation: str, path: str) -> None:
        if operation == "write":
            raise DiskError("no space left on buf1")

    faults.hook = full
    await _package(catalog, faulty_storages({"buf1": faults}))
    names = sorted(f"packages/{p.name}" for p in setup.packages())
    assert setup.present_copies(setup.buffers[1]) == names
    assert not list((tmp_path / "buf1").rglob("*.tar"))
    assert {p.state for p in setup.packages()} == {PackageState.WAITING}


async def test_files_are_packaged_once(catalog: Catalog, tmp_path: Path) -> None:
    setup = make_setup(catalog, tmp_path)
    setup.write_files(4)
    await _package(catalog)
    first = {p.name for p in setup.packages()}
    setup.write_files(2, seed=1)
    await _package(catalog)
    packages = setup.packages()
    assert first < {p.name for p in packages}
    members = [m.file_id for p in packages for m in p.members]
    assert sorted(members) == sorted(f.id for f in setup.files)
