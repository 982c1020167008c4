"""Fixtures of the transport tests: the simulator's archive over HTTP and over S3.

Both simulators serve the same files (one cache, one spec) for the whole session: moto
is slow to start. Tests that turn faults on go through ``s3_faults``, which turns them
off again; tests that change an object use one of their own (``CHANGED_INDEX``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from skyhaul.adapters.s3 import S3Settings, S3Transport
from skyhaul.adapters.s3_access import S3Access
from skyhaul.sim.archive import ArchiveSpec, SizeBand
from skyhaul.sim.config import SimConfig
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.s3_thread import S3SimThread
from skyhaul.sim.thread import SimThread

KIB = 1024
MIB = 1024 * KIB
#: Five 64 KiB blobs and one of 100 MiB (exact sizes: blobs are not rounded).
TRANSPORT_ARCHIVE = ArchiveSpec(
    seed=11,
    count=6,
    sizes=(SizeBand(64 * KIB, 64 * KIB, 5), SizeBand(100 * MIB, 100 * MIB, 1)),
    kind="blob",
)
BUCKET = "skyhaul-transport-tests"
#: The object ``test_s3`` re-uploads (no other test reads it).
CHANGED_INDEX = 4


@pytest.fixture(scope="session")
def transport_config(tmp_path_factory: pytest.TempPathFactory) -> SimConfig:
    return SimConfig(archive=TRANSPORT_ARCHIVE, root=tmp_path_factory.mktemp("transport-sim"))


@pytest.fixture(scope="session")
def s3_sim(transport_config: SimConfig) -> Iterator[S3SimThread]:
    with S3SimThread(transport_config, bucket=BUCKET) as running:
        yield running


@pytest.fixture(scope="session")
def http_sim(transport_config: SimConfig) -> Iterator[SimThread]:
    with SimThread(transport_config) as running:
        yield running


@pytest.fixture
def s3_faults(s3_sim: S3SimThread) -> Iterator[S3SimThread]:
    """The S3 simulator, its faults turned off again after the test."""
    try:
        yield s3_sim
    finally:
        s3_sim.set_faults(FaultConfig())


def unsigned_transport(endpoint: str, settings: S3Settings | None = None) -> S3Transport:
    """An S3 transport for ``endpoint`` sending unsigned requests."""
    return S3Transport(settings, access=S3Access(endpoint=endpoint))
