"""MAST products' bytes: valid checksummed FITS matching their observation, small files."""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from collections.abc import Callable

import pytest
from astropy.io import fits
from astropy.table import Table

from skyhaul.sim.mast.content import write_product
from skyhaul.sim.mast.dataset import MastProduct, build_dataset
from skyhaul.sim.mast.spec import MastSpec

DATASET = build_dataset(MastSpec())


def _bytes(product: MastProduct, seed: int = 0) -> tuple[bytes, str, str]:
    out = io.BytesIO()
    digests = write_product(out, product, seed)
    return out.getvalue(), digests.sha256, digests.http_sha256


def _first(predicate: Callable[[MastProduct], bool]) -> MastProduct:
    return next(p for p in DATASET.products if predicate(p))


@pytest.mark.parametrize(
    "filename",
    [
        "iepw01010_drz.fits",
        "jw01177007001_02101_00001_mirimage_cal.fits",
        "tess2019112060037-s0011-0000000307210830-0143-s_lc.fits",
    ],
)
def test_fits_products_verify_and_carry_their_observation(filename: str) -> None:
    product = _first(lambda p: p.filename == filename)
    body, sha256, http_sha256 = _bytes(product)
    assert len(body) == product.size and hashlib.sha256(body).hexdigest() == sha256
    assert http_sha256 == sha256
    observation = product.observation
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a failed checksum is a warning in astropy
        with fits.open(io.BytesIO(body), checksum=True) as hdus:
            assert [hdu.name for hdu in hdus] == ["PRIMARY", "SCI"]
            assert all(hdu.verify_checksum() == 1 for hdu in hdus)
            assert all(hdu.verify_datasum() == 1 for hdu in hdus)
            header = hdus[0].header
            assert header["TELESCOP"] == observation.obs_collection
            assert header["INSTRUME"] == observation.plan.instrument_name.split("/")[0]
            assert header["DETECTOR"] == observation.plan.detector
            assert header["FILTER"] == observation.plan.filters
            assert header["TARGNAME"] == observation.target.name
            assert header["RA_TARG"] == observation.s_ra
            assert header["DEC_TARG"] == observation.s_dec
            assert header["DATE-OBS"] == observation.plan.start
            assert header["EXPTIME"] == observation.plan.exptime
            assert header["FILENAME"] == product.filename
            assert hdus["SCI"].data.shape == (product.size // 2880 - 2, 1440)


def test_the_same_product_has_the_same_bytes_and_another_seed_others() -> None:
    product = _first(lambda p: p.filename == "iepw01abq_raw.fits")
    first, again, other = _bytes(product), _bytes(product), _bytes(product, seed=1)
    assert first == again
    assert first[1] != other[1] and len(first[0]) == len(other[0])


def test_a_bad_datasum_fails_both_checks_of_the_sci_extension() -> None:
    product = _first(lambda p: p.bad_datasum)
    body, _, _ = _bytes(product)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fits.open(io.BytesIO(body), checksum=True) as hdus:
            assert hdus[0].verify_checksum() == 1
            assert hdus["SCI"].verify_datasum() == 0
            assert hdus["SCI"].verify_checksum() == 0
    assert any("Datasum verification failed" in str(w.message) for w in caught)


def test_a_corrupt_http_product_differs_over_http_only_at_its_offsets() -> None:
    product = _first(lambda p: p.corrupt_http)
    body, sha256, http_sha256 = _bytes(product)
    served = bytearray(body)
    for at in product.corrupt_offsets:
        served[at] ^= 0xFF
    assert hashlib.sha256(served).hexdigest() == http_sha256 != sha256
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fits.open(io.BytesIO(bytes(served)), checksum=True):
            pass
    assert any("Checksum verification failed" in str(w.message) for w in caught)


def test_small_products_are_valid_documents_of_their_exact_size() -> None:
    for kind in ("json", "txt", "ecsv", "jpg"):
        product = _first(lambda p, kind=kind: p.kind == kind)
        body, _, _ = _bytes(product)
        assert len(body) == product.size
        if kind == "json":
            assert json.loads(body)["target"] == product.observation.target.name
        elif kind == "ecsv":
            table = Table.read(io.BytesIO(body).read().decode(), format="ascii.ecsv")
            assert table.colnames == ["id", "ra", "dec", "flux"] and len(table) > 10
        elif kind == "txt":
            assert body.decode("ascii").startswith("skyhaul-sim processing log")
        else:
            assert body[:4] == b"\xff\xd8\xff\xe0" and body[-2:] == b"\xff\xd9"
