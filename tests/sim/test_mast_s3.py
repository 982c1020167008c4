"""MAST's cloud products on the simulator's S3 side, under their stpubdata keys."""

from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from astropy.io import fits

from skyhaul.sim import SimConfig, profile
from skyhaul.sim.mast.dataset import build_dataset
from skyhaul.sim.mast.spec import MastSpec
from skyhaul.sim.s3_thread import S3SimThread

# Not stpubdata itself: moto's buckets are per process, and another test module may hold it.
MAST_BUCKET = "stpubdata-sim-tests"


@pytest.fixture(scope="module")
def s3(sim_root: Path) -> Iterator[S3SimThread]:
    config = SimConfig(archive=profile("small"), root=sim_root)
    with S3SimThread(config, bucket="skyhaul-mast-s3-tests", mast_bucket=MAST_BUCKET) as sim:
        yield sim


def _get(endpoint: str, bucket: str, key: str) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{endpoint}/{bucket}/{quote(key)}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_every_cloud_product_is_an_object_with_the_right_bytes(s3: S3SimThread) -> None:
    dataset = build_dataset(MastSpec())
    objects = s3.mast_objects()
    assert s3.mast_bucket == MAST_BUCKET
    assert [o.key for o in objects] == [p.cloud_key for p in dataset.products if p.cloud_key]
    for obj in objects:
        status, body = _get(s3.endpoint, MAST_BUCKET, obj.key)
        assert status == 200 and len(body) == obj.file.size
        assert hashlib.sha256(body).hexdigest() == obj.file.sha256
        assert obj.url == f"s3://{MAST_BUCKET}/{obj.key}"


def test_s3_has_the_corrupt_products_right_bytes_and_the_bad_datasum_too(
    s3: S3SimThread,
) -> None:
    objects = {o.file.product.data_uri: o for o in s3.mast_objects()}
    corrupt = next(o for o in objects.values() if o.file.product.corrupt_http)
    _, body = _get(s3.endpoint, MAST_BUCKET, corrupt.key)
    assert hashlib.sha256(body).hexdigest() == corrupt.file.sha256 != corrupt.file.http_sha256
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fits.open(io.BytesIO(body), checksum=True) as hdus:
            assert all(hdu.verify_checksum() == 1 for hdu in hdus)
    bad = next(o for o in objects.values() if o.file.product.bad_datasum)
    _, body = _get(s3.endpoint, MAST_BUCKET, bad.key)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with fits.open(io.BytesIO(body), checksum=True) as hdus:
            assert hdus["SCI"].verify_datasum() == 0


def test_products_not_in_the_cloud_are_not_in_the_bucket(s3: S3SimThread) -> None:
    dataset = build_dataset(MastSpec())
    local = [p for p in dataset.products if p.cloud_key is None]
    hst = f"hst/public/iepw/iepw01abq/{local[0].filename}"
    for key in (hst, f"jwst/public/{local[0].filename}"):
        assert _get(s3.endpoint, MAST_BUCKET, key)[0] in (403, 404)
    # the archive's own bucket is untouched
    assert _get(s3.endpoint, s3.bucket, dataset.products[0].cloud_key or "")[0] in (403, 404)
