"""Deletion (services.observatory.deletion) under random interleavings of every stage,
injected storage failures and kills (a worker abandoning what it claimed; its lease runs
out on the test's clock): no raw file ever loses its last verified copy, nothing is
ARCHIVED unverified, and once the pipeline drains every archived file is gone from its
source and every archived tar from its buffer. A package being staged keeps its copies."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.operations import NewOperation, OperationKind
from skyhaul.core.packages import Package, PackageState
from skyhaul.core.sites import LocationType
from skyhaul.errors import ServerError
from skyhaul.services.observatory.layout import archive_path, buffer_path
from skyhaul.services.observatory.pipeline import DEFAULT_STAGES, STAGES, run_pipeline, run_stage
from skyhaul.services.observatory.stagework import PipelineSettings, StageContext
from skyhaul.services.observatory.staging import stage
from skyhaul.services.owners import new_owner

from .conftest import START, Faults, ManualClock, Setup, faulty_storages, make_setup

LEASE = 60.0


class Killed(BaseException):
    """The worker's process dies: nothing of its work is settled."""


@pytest.fixture(scope="module")
def empty_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty catalog each example starts from a copy of (migrating is slow)."""
    path = tmp_path_factory.mktemp("template") / "catalog.db"
    open_catalog(f"sqlite:///{path}").close()
    return path


def _sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _check(setup: Setup) -> None:
    archive_dir = setup.root / "lta1"
    packages = {p.id: p for p in setup.packages()}
    for package in packages.values():
        if package.state is PackageState.ARCHIVED:
            assert _sha(archive_dir / archive_path(package)) == package.sha256, package.name
            copies = setup.catalog.copies_of_package(package.id)
            assert any(c.verified for c in copies if c.location == setup.archives[0].id)
    for raw in setup.files:
        if setup.source_present(raw):
            continue
        package = packages[raw.package_id or 0] if raw.package_id else None
        current = setup.catalog.raw_file(raw.id)
        assert current is not None and current.package_id is not None, raw.path
        package = packages[current.package_id]
        assert package.state is PackageState.ARCHIVED, f"{raw.path} deleted before archived"
        assert _sha(archive_dir / archive_path(package)) == package.sha256


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(DEFAULT_STAGES),
        st.sampled_from(["ok", "ok", "fail", "kill"]),
        st.integers(min_value=0, max_value=4),
    ),
    min_size=4,
    max_size=16,
)
#: Deletion right after the tars reach the archive, before they are verified.
TOO_EARLY = [("packaging", "ok", 0), ("transfer", "ok", 0), ("deletion", "ok", 0)]


@settings(max_examples=30, deadline=None)
@given(actions=ACTIONS)
@example(actions=TOO_EARLY)
def test_no_file_loses_its_last_verified_copy(empty_catalog: Path, actions: list) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        shutil.copy(empty_catalog, root / "catalog.db")
        catalog = open_catalog(f"sqlite:///{root / 'catalog.db'}")
        try:
            asyncio.run(_scenario(make_setup(catalog, root, buffers=2), actions))
        finally:
            catalog.close()


async def _scenario(setup: Setup, actions: list[tuple[str, str, int]]) -> None:
    setup.write_files(3)
    faults = Faults()
    storages = faulty_storages({name: faults for name in ("raw", "buf1", "buf2", "lta")})
    clock = ManualClock()
    run_settings = PipelineSettings(retention=timedelta(0), lease_seconds=LEASE)
    ctx = StageContext(setup.catalog, storages, new_owner(), run_settings, clock.clock)
    try:
        for stage, mode, after in actions:
            faults.hook = _arm(mode, after)
            try:
                await run_stage(ctx, STAGES[stage])
            except Killed:
                ctx.owner = new_owner()  # another process takes over once the lease ends
                clock.advance(LEASE + 1)
            faults.hook = None
            _check(setup)
        clock.advance(LEASE + 1)
        summary = await run_pipeline(
            setup.catalog,
            once=True,
            retention=timedelta(0),
            clock=clock.clock,
            storages=storages,
            lease_seconds=LEASE,
        )
        _check(setup)
    finally:
        await storages.aclose()
    packages = setup.packages()
    assert {p.state for p in packages} <= {PackageState.ARCHIVED, PackageState.FAILED}
    failed = [p for p in packages if p.state is PackageState.FAILED]
    assert all(p.error for p in failed)  # each failure says why
    assert {f.package for f in summary.failures} <= {p.name for p in failed}
    members = sorted(m.file_id for p in packages for m in p.members)
    assert members == sorted(f.id for f in setup.files)  # each file in one package
    for package in packages:
        if package.state is PackageState.ARCHIVED:
            assert not any(
                (setup.root / b).joinpath(buffer_path(package)).exists() for b in ("buf1", "buf2")
            )
            for member in package.members:
                assert not (setup.source_dir / member.path).exists()


async def test_a_package_with_a_stage_operation_open_keeps_its_source_and_buffer_copies(
    catalog: Catalog, tmp_path: Path
) -> None:
    setup = make_setup(catalog, tmp_path)
    setup.write_files(8)
    (tmp_path / "proc").mkdir()
    proc = catalog.add_location(
        "dc1", "proc", LocationType.PROCESSING, (tmp_path / "proc").as_uri(), now=START
    )
    clock = ManualClock().clock
    moved = ["packaging", "transfer", "verify", "archive"]
    await run_pipeline(catalog, moved, once=True, retention=timedelta(0), clock=clock)
    used, *others = setup.packages()
    assert others and {p.state for p in setup.packages()} == {PackageState.ARCHIVED}
    new = NewOperation(OperationKind.STAGE, package_id=used.id, destination_location=proc.id)
    catalog.enqueue_operation(new, now=START)

    async def delete() -> None:
        summary = await run_pipeline(
            catalog, ["deletion"], once=True, retention=timedelta(0), clock=clock
        )
        assert not summary.failures

    def kept(package: Package) -> set[bool]:
        """Whether each of the package's source files, and its buffer tar, is there."""
        members = {m.file_id for m in package.members}
        here = {setup.source_present(raw) for raw in setup.files if raw.id in members}
        return here | {(setup.root / "buf1" / buffer_path(package)).is_file()}

    await delete()
    assert kept(used) == {True}
    assert all(kept(package) == {False} for package in others)  # only the staged one kept
    await stage(catalog, used.name, "dc1/proc", clock=clock)  # the operation completes
    await delete()
    assert kept(used) == {False}
    assert all((tmp_path / "proc" / m.path).is_file() for m in used.members)


def _arm(mode: str, after: int):  # type: ignore[no-untyped-def]
    """A hook failing (or killing) the ``after``-th storage call of a pass."""
    if mode == "ok":
        return None
    calls = [0]

    def hook(operation: str, path: str) -> None:
        calls[0] += 1
        if calls[0] == after + 1:
            if mode == "kill":
                raise Killed
            raise ServerError(f"injected failure of {operation} {path}")

    return hook
