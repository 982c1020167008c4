"""What only an S3 location does: multipart uploads, completed or aborted, on moto."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from skyhaul.adapters.locations import S3Location
from skyhaul.sim.s3_thread import S3SimThread

from .conftest import moto_client, s3_transport, unique_prefix

MIB = 1 << 20


@pytest.fixture
def s3_location(s3_sim: S3SimThread) -> S3Location:
    """Parts of 5 MiB (S3's smallest), so 11 MiB makes a three-part upload."""
    return S3Location(
        s3_sim.bucket, unique_prefix(), transport=s3_transport(s3_sim), part_size=5 * MIB
    )


def _uploads(client: Any, bucket: str, prefix: str) -> list[str]:
    answer = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    return [upload["Key"] for upload in answer.get("Uploads", [])]


async def test_a_large_object_goes_up_in_parts(
    s3_location: S3Location, s3_sim: S3SimThread
) -> None:
    data = bytes(range(251)) * (11 * MIB // 251)
    writer = await s3_location.writer("pkg/big.tar")
    for at in range(0, len(data), MIB):
        await writer.write(data[at : at + MIB])
    client = moto_client(s3_sim)
    # Two parts are up before the end: the upload is there, the object is not.
    assert _uploads(client, s3_sim.bucket, s3_location.prefix) == [s3_location.key("pkg/big.tar")]
    assert await s3_location.stat("pkg/big.tar") is None
    info = await writer.commit()
    assert info.size == len(data)
    assert info.etag is not None and info.etag.endswith('-3"')  # three parts
    assert _uploads(client, s3_sim.bucket, s3_location.prefix) == []
    body = b"".join([c async for c in s3_location.open_read("pkg/big.tar")])
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()


async def test_abort_aborts_the_multipart_upload(
    s3_location: S3Location, s3_sim: S3SimThread
) -> None:
    writer = await s3_location.writer("pkg/aborted.tar")
    for _ in range(7):
        await writer.write(b"z" * MIB)
    client = moto_client(s3_sim)
    assert _uploads(client, s3_sim.bucket, s3_location.prefix) != []
    await writer.abort()
    assert _uploads(client, s3_sim.bucket, s3_location.prefix) == []
    assert await s3_location.stat("pkg/aborted.tar") is None


def test_parts_below_s3s_minimum_are_refused(s3_sim: S3SimThread) -> None:
    with pytest.raises(ValueError, match="5 MiB"):
        S3Location(s3_sim.bucket, transport=s3_transport(s3_sim), part_size=MIB)
