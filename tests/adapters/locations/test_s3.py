"""What only an S3 location does: multipart uploads, completed, aborted or resumed, on moto."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

from skyhaul.adapters.locations import S3Location
from skyhaul.errors import ClientError
from skyhaul.sim.s3_thread import S3SimThread

from .conftest import moto_client, s3_transport, unique_prefix

MIB = 1 << 20
#: 12 MiB the killed writer means to write: two 5 MiB parts and 2 MiB buffered.
INTENDED = bytes(range(251)) * (12 * MIB // 251) + bytes(12 * MIB % 251)

KILLED_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from skyhaul.adapters.locations import S3Location
    from skyhaul.adapters.s3 import S3Transport
    from skyhaul.adapters.s3_access import AwsCredentials, S3Access
    from skyhaul.sim.s3 import SIM_CREDENTIALS

    INTENDED = bytes(range(251)) * (12 * 2**20 // 251) + bytes(12 * 2**20 % 251)

    async def main():
        endpoint, bucket, prefix = sys.argv[1:]
        access = S3Access(endpoint=endpoint, credentials=AwsCredentials(*SIM_CREDENTIALS))
        location = S3Location(
            bucket, prefix, transport=S3Transport(access=access), part_size=5 * 2**20
        )
        writer = await location.writer("pkg/killed.tar")
        for at in range(0, len(INTENDED), 2**20):
            await writer.write(INTENDED[at : at + 2**20])
        await writer.sync()
        sys.stdin.read()  # until killed: no commit, no abort, no cleanup

    asyncio.run(main())
    """
)


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


def _parts(client: Any, bucket: str, key: str) -> list[int]:
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
    if not uploads:
        return []
    answer = client.list_parts(Bucket=bucket, Key=key, UploadId=uploads[0]["UploadId"])
    return [part["Size"] for part in answer.get("Parts", [])]


def test_a_killed_writer_is_resumed_from_its_uploaded_parts(s3_sim: S3SimThread) -> None:
    prefix = unique_prefix()
    location = S3Location(s3_sim.bucket, prefix, transport=s3_transport(s3_sim), part_size=5 * MIB)
    key, client = location.key("pkg/killed.tar"), moto_client(s3_sim)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, s3_sim.moto_endpoint, s3_sim.bucket, prefix],
        env=env,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while _parts(client, s3_sim.bucket, key) != [5 * MIB, 5 * MIB]:
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "the child never uploaded two parts"
            time.sleep(0.05)
    finally:
        child.kill()  # SIGKILL
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL

    async def resume() -> tuple[int, int, bytes]:
        assert await location.stat("pkg/killed.tar") is None  # never committed
        writer = await location.writer("pkg/killed.tar", resume=True)
        offset = writer.resume_offset()
        await writer.write(INTENDED[offset:])
        info = await writer.commit()
        data = b"".join([c async for c in location.open_read("pkg/killed.tar")])
        await location.aclose()
        return offset, info.size, data

    offset, size, data = asyncio.run(resume())
    assert offset == 10 * MIB  # the 2 MiB buffered below a part died with the writer
    assert size == len(INTENDED)
    assert hashlib.sha256(data).digest() == hashlib.sha256(INTENDED).digest()
    assert _uploads(client, s3_sim.bucket, prefix) == []


async def test_a_writer_not_resuming_aborts_what_a_suspended_one_left(
    s3_location: S3Location, s3_sim: S3SimThread
) -> None:
    client = moto_client(s3_sim)
    left = await s3_location.writer("pkg/a.tar")
    await left.write(b"o" * 6 * MIB)
    await left.sync()
    await left.suspend()
    assert _uploads(client, s3_sim.bucket, s3_location.prefix) == [s3_location.key("pkg/a.tar")]
    fresh = await s3_location.writer("pkg/a.tar")
    assert fresh.resume_offset() == 0
    assert _uploads(client, s3_sim.bucket, s3_location.prefix) == []  # aborted on opening
    await fresh.write(b"new")
    await fresh.commit()
    assert b"".join([c async for c in s3_location.open_read("pkg/a.tar")]) == b"new"


async def test_a_resume_takes_up_the_newest_upload_of_exactly_its_key(
    s3_location: S3Location, s3_sim: S3SimThread
) -> None:
    client, bucket = moto_client(s3_sim), s3_sim.bucket
    key = s3_location.key("pkg/a.tar")
    ids = {}
    # moto gives every upload the same Initiated: its listing order (oldest first, as
    # S3's) decides which is newest.
    for name, fill in ((key, b"o"), (key, b"n"), (key + ".other", b"x")):
        upload_id = client.create_multipart_upload(Bucket=bucket, Key=name)["UploadId"]
        client.upload_part(
            Bucket=bucket, Key=name, UploadId=upload_id, PartNumber=1, Body=fill * 5 * MIB
        )
        ids[fill] = upload_id
    writer = await s3_location.writer("pkg/a.tar", resume=True)
    assert writer.resume_offset() == 5 * MIB
    listed = client.list_multipart_uploads(Bucket=bucket, Prefix=s3_location.prefix)["Uploads"]
    assert sorted(u["UploadId"] for u in listed) == sorted([ids[b"n"], ids[b"x"]])
    await writer.write(b"tail")
    await writer.commit()
    data = b"".join([c async for c in s3_location.open_read("pkg/a.tar")])
    assert data == b"n" * 5 * MIB + b"tail"
    client.abort_multipart_upload(Bucket=bucket, Key=key + ".other", UploadId=ids[b"x"])


async def test_a_part_too_small_to_have_a_successor_is_uploaded_again(
    s3_location: S3Location, s3_sim: S3SimThread
) -> None:
    # A writer killed between its last part and the completion left parts 5 MiB + 1 MiB.
    client, bucket = moto_client(s3_sim), s3_sim.bucket
    key = s3_location.key("pkg/a.tar")
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    for number, body in ((1, b"a" * 5 * MIB), (2, b"b" * MIB)):
        client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
    writer = await s3_location.writer("pkg/a.tar", resume=True)
    assert writer.resume_offset() == 5 * MIB
    await writer.write(b"c" * 5 * MIB + b"d")
    info = await writer.commit()
    assert info.size == 10 * MIB + 1
    data = b"".join([c async for c in s3_location.open_read("pkg/a.tar")])
    assert data == b"a" * 5 * MIB + b"c" * 5 * MIB + b"d"


@pytest.mark.parametrize(("size", "etag_suffix"), [(0, '"'), (10, '"'), (5 * MIB, '-1"')])
async def test_small_objects_go_up_whole_and_one_part_completes(
    s3_location: S3Location, s3_sim: S3SimThread, size: int, etag_suffix: str
) -> None:
    writer = await s3_location.writer("pkg/small")
    await writer.write(b"s" * size)
    info = await writer.commit()
    assert info.size == size
    assert info.etag is not None and info.etag.endswith(etag_suffix)
    assert ("-" in info.etag) == (size == 5 * MIB)  # put whole below one part
    assert _uploads(moto_client(s3_sim), s3_sim.bucket, s3_location.prefix) == []
    assert b"".join([c async for c in s3_location.open_read("pkg/small")]) == b"s" * size


async def test_a_missing_bucket_is_a_one_line_404(s3_sim: S3SimThread) -> None:
    location = S3Location("no-such-bucket-here", "p", transport=s3_transport(s3_sim))
    with pytest.raises(ClientError) as missing:
        await location.writer("a.tar")
    assert missing.value.status == 404
    assert str(missing.value) == "S3 404 NoSuchBucket from s3://no-such-bucket-here/p/a.tar"
    await location.aclose()
