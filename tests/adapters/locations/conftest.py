"""Locations to test against: a local directory, and a fresh prefix of the S3 simulator.

The S3 location talks to moto directly (no fault proxy), signed with the simulator's keys,
with parts of 5 MiB, in the bucket of the session's ``s3_sim``
(``tests/adapters/conftest.py``): moto is slow to start, so it is shared. Each test gets
a prefix of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import boto3
import pytest

from skyhaul.adapters.locations import S3Location, location_storage
from skyhaul.adapters.s3 import S3Transport
from skyhaul.adapters.s3_access import AwsCredentials, S3Access
from skyhaul.ports.locations import LocationStorage
from skyhaul.sim.s3 import SIM_CREDENTIALS, SIM_REGION
from skyhaul.sim.s3_thread import S3SimThread

MIB = 1 << 20


def s3_transport(s3_sim: S3SimThread) -> S3Transport:
    """A transport writing to moto itself, signed with the simulator's keys."""
    credentials = AwsCredentials(*SIM_CREDENTIALS)
    return S3Transport(access=S3Access(endpoint=s3_sim.moto_endpoint, credentials=credentials))


def moto_client(s3_sim: S3SimThread) -> object:
    """boto3's client of moto, to look behind the location's back."""
    return boto3.client(
        "s3",
        endpoint_url=s3_sim.moto_endpoint,
        region_name=SIM_REGION,
        aws_access_key_id=SIM_CREDENTIALS[0],
        aws_secret_access_key=SIM_CREDENTIALS[1],
    )


def unique_prefix() -> str:
    return f"locations/{uuid.uuid4().hex}"


@pytest.fixture(params=["local", "s3"])
async def location(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[LocationStorage]:
    """Each implementation of the port, empty."""
    if request.param == "local":
        storage = location_storage((tmp_path / "location").as_uri())
    else:
        s3_sim: S3SimThread = request.getfixturevalue("s3_sim")
        # S3's smallest parts, so that a few MiB make a multipart upload (and its resume).
        storage = S3Location(
            s3_sim.bucket, unique_prefix(), transport=s3_transport(s3_sim), part_size=5 * MIB
        )
    try:
        yield storage
    finally:
        await storage.aclose()
