"""Unpack and verify at the archive (services.observatory.verification): a corrupt archive
copy is caught, deleted and sent again; bad every time, the package fails for good with
its error; never ARCHIVED unverified."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

from tests.adapters.locations.conftest import moto_client

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.operations import OperationKind, OperationStatus
from skyhaul.core.packages import PackageState
from skyhaul.services.observatory.layout import archive_path
from skyhaul.services.observatory.pipeline import run_pipeline
from skyhaul.services.observatory.stagework import Storages

from ..conftest import Mirrored
from .conftest import Faults, ManualClock, faulty_storages, make_setup, unique_prefix


async def test_a_corrupt_archive_copy_is_caught_and_sent_again(
    catalog: Catalog, tmp_path: Path, mirrored_archive: Mirrored, storages: Storages
) -> None:
    prefix = unique_prefix()
    bucket = mirrored_archive.s3.bucket
    setup = make_setup(catalog, tmp_path, archive_urls=[f"s3://{bucket}/{prefix}"])
    setup.write_files(3)
    clock = ManualClock()
    await run_pipeline(
        catalog, ["packaging", "transfer"], once=True, clock=clock.clock, storages=storages
    )
    [package] = [p for p in setup.packages() if p.state is PackageState.TRANSFERRING][:1]
    key = f"{prefix}/{archive_path(package)}"
    s3 = moto_client(mirrored_archive.s3)
    data = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())  # type: ignore[attr-defined]
    data[700] ^= 0x01  # a byte of the first member, flipped on the server
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))  # type: ignore[attr-defined]

    summary = await run_pipeline(
        catalog, once=True, retention=timedelta(0), clock=clock.clock, storages=storages
    )

    assert not summary.failures
    again = catalog.package(package.id)
    assert again is not None and again.state is PackageState.ARCHIVED
    transfers = catalog.operations(package_id=package.id, kinds=[OperationKind.TRANSFER])
    assert len(transfers) == 2  # the first, and the one sent after the mismatch
    stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[attr-defined]
    assert hashlib.sha256(stored).hexdigest() == package.sha256


async def test_bad_after_every_resend_the_package_fails_for_good(
    catalog: Catalog, tmp_path: Path
) -> None:
    setup = make_setup(catalog, tmp_path)
    setup.write_files(1)
    archive_faults = Faults()
    archive_faults.corrupt_writes = True
    storages = faulty_storages({"lta": archive_faults})
    try:
        summary = await run_pipeline(
            catalog,
            once=True,
            retention=timedelta(0),
            clock=ManualClock().clock,
            storages=storages,
            max_retries=3,
        )
    finally:
        await storages.aclose()
    [package] = setup.packages()
    assert package.state is PackageState.FAILED
    assert package.error is not None and "sent 4 times" in package.error
    [failure] = summary.failures
    assert failure.package == package.name and failure.kind is OperationKind.UNPACK_VERIFY
    transfers = catalog.operations(package_id=package.id, kinds=[OperationKind.TRANSFER])
    assert len(transfers) == 4  # the first and three re-sends
    failed = catalog.operations(package_id=package.id, statuses=[OperationStatus.FAILED])
    assert [op.kind for op in failed] == [OperationKind.UNPACK_VERIFY]
    # Never archived, so the source keeps every file.
    assert all(setup.source_present(raw) for raw in setup.files)


async def test_an_archive_that_keeps_failing_fails_the_package_after_three_retries(
    catalog: Catalog, tmp_path: Path
) -> None:
    from skyhaul.errors import ServerError

    setup = make_setup(catalog, tmp_path)
    setup.write_files(1)
    faults = Faults()

    def refuse(operation: str, path: str) -> None:
        if operation == "writer":
            raise ServerError("503 from the archive")

    faults.hook = refuse
    storages = faulty_storages({"lta": faults})
    try:
        summary = await run_pipeline(
            catalog, once=True, clock=ManualClock().clock, storages=storages
        )
    finally:
        await storages.aclose()
    [package] = setup.packages()
    assert package.state is PackageState.FAILED and package.error == "503 from the archive"
    [transfer] = catalog.operations(package_id=package.id, kinds=[OperationKind.TRANSFER])
    assert (transfer.status, transfer.retries) == (OperationStatus.FAILED, 3)
    assert summary.stages["transfer"].retried == 3 and len(summary.failures) == 1
