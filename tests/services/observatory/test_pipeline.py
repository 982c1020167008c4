"""The observatory pipeline end to end (services.observatory.pipeline): files written by
the simulated observatory at a local source, packaged into a local buffer, sent to an S3
archive (moto), verified, archived with a sidecar, and deleted at the source and the
buffer only after that."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.packages import PackageState
from skyhaul.core.placement import CopyStatus
from skyhaul.services.observatory.layout import archive_path
from skyhaul.services.observatory.packing import sidecar_path
from skyhaul.services.observatory.pipeline import run_pipeline
from skyhaul.services.observatory.stagework import Storages

from ..conftest import Mirrored
from .conftest import ManualClock, Setup, make_setup, unique_prefix


@pytest.fixture
def s3_setup(catalog: Catalog, tmp_path: Path, mirrored_archive: Mirrored) -> Setup:
    url = f"s3://{mirrored_archive.s3.bucket}/{unique_prefix()}"
    return make_setup(catalog, tmp_path, archive_urls=[url])


async def test_files_go_from_the_source_to_an_s3_archive_and_only_then_are_deleted(
    s3_setup: Setup, storages: Storages
) -> None:
    files = s3_setup.write_files(10)
    clock = ManualClock()
    # A day's retention first: everything is archived, nothing deleted.
    summary = await run_pipeline(
        s3_setup.catalog,
        once=True,
        retention=timedelta(days=1),
        clock=clock.clock,
        storages=storages,
        max_package_size=12_000,
    )
    assert not summary.failures
    packages = s3_setup.packages()
    assert len(packages) >= 4  # two units x two modules, cut at 12 kB
    assert {p.state for p in packages} == {PackageState.ARCHIVED}
    assert all(s3_setup.source_present(raw) for raw in files)
    [buffer] = s3_setup.buffers
    assert s3_setup.present_copies(buffer) == sorted(f"packages/{p.name}" for p in packages)
    assert not list((s3_setup.source_dir / ".skyhaul" / "packages").iterdir())
    archive = storages.of(s3_setup.archives[0])
    for package in packages:
        sidecar = b"".join(
            [c async for c in archive.open_read(sidecar_path(archive_path(package)))]
        )
        document = json.loads(sidecar)
        assert document["sha256"] == package.sha256
        assert {m["path"] for m in document["members"]} == {m.path for m in package.members}
        [copy] = [
            c
            for c in s3_setup.catalog.copies_of_package(package.id)
            if c.location == s3_setup.archives[0].id
        ]
        assert copy.verified and copy.sha256 == package.sha256

    # Once the retention is over, the source's files and the buffer's tars go.
    clock.advance(timedelta(days=1).total_seconds())
    summary = await run_pipeline(
        s3_setup.catalog,
        once=True,
        retention=timedelta(days=1),
        clock=clock.clock,
        storages=storages,
    )
    assert summary.stages["deletion"].done == 2 * (len(files) + len(packages))
    assert not any(s3_setup.source_present(raw) for raw in files)
    assert not list((s3_setup.root / "buf1" / "packages").iterdir())
    assert s3_setup.present_copies(buffer) == []
    for raw in files:
        statuses = {c.status for c in s3_setup.catalog.copies_of_file(raw.id)}
        assert statuses == {CopyStatus.DELETED}
    for package in packages:  # the archive still holds every package, whole
        info = await archive.stat(archive_path(package))
        assert info is not None and info.size == package.size


async def test_nothing_is_left_to_do_after_a_run(catalog: Catalog, tmp_path: Path) -> None:
    setup = make_setup(catalog, tmp_path)
    setup.write_files(4)
    first = await run_pipeline(
        catalog, once=True, retention=timedelta(0), clock=ManualClock().clock
    )
    again = await run_pipeline(
        catalog, once=True, retention=timedelta(0), clock=ManualClock().clock
    )
    assert first.stages["packaging"].done > 0 and not first.failures
    assert again.rounds == 1 and not any(c.busy for c in again.stages.values())
    assert not any(setup.source_present(raw) for raw in setup.files)


async def test_only_the_stages_named_run(catalog: Catalog, tmp_path: Path) -> None:
    setup = make_setup(catalog, tmp_path)
    setup.write_files(4)
    summary = await run_pipeline(catalog, ["packaging"], once=True, clock=ManualClock().clock)
    assert set(summary.stages) == {"packaging"}
    assert {p.state for p in setup.packages()} == {PackageState.WAITING}
    with pytest.raises(ValueError, match="unknown stage"):
        await run_pipeline(catalog, ["packing"], once=True)
