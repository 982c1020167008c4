from __future__ import annotations

import hashlib
import io
import warnings

import pytest
from astropy.io import fits

from skyhaul.sim import ArchiveSpec, build_archive, profile
from skyhaul.sim.content import write_content


def _bytes(spec: ArchiveSpec, index: int = 0, generation: int = 0) -> tuple[bytes, str]:
    out = io.BytesIO()
    archive = build_archive(spec)
    sha = write_content(out, archive.files[index], generation, spec.seed)
    return out.getvalue(), sha


def test_content_is_deterministic_and_hashed() -> None:
    first, sha = _bytes(profile("small", seed=3))
    again, _ = _bytes(profile("small", seed=3))
    other, _ = _bytes(profile("small", seed=4))
    assert first == again
    assert hashlib.sha256(first).hexdigest() == sha
    assert other != first


@pytest.mark.parametrize("generation", [0, 1, 2])
def test_every_generation_is_valid_fits_with_its_metadata(generation: int) -> None:
    spec = profile("small", seed=1)
    file = build_archive(spec).files[2]
    data, _ = _bytes(spec, index=2, generation=generation)
    assert len(data) == file.size_at(generation)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fits.open(io.BytesIO(data), checksum=True) as hdus:
            hdus.verify("exception")
            header = hdus[0].header
            assert hdus[0].verify_checksum() == 1
            assert hdus[0].verify_datasum() == 1
            assert header["INSTRUME"] == file.instrument
            assert header["DATE-OBS"] == f"{file.obs_start:%Y-%m-%dT%H:%M:%S}"
            assert header["SLOTID"] == file.slot
            assert header["GENERATN"] == generation
            assert hdus[0].data.shape == (len(data) // 2880 - 1, 1440)


def test_generations_differ() -> None:
    spec = profile("small")
    assert _bytes(spec, generation=0)[1] != _bytes(spec, generation=3)[1]


def test_blobs_have_exact_sizes() -> None:
    data, sha = _bytes(ArchiveSpec.exact(1, 12345))
    assert len(data) == 12345
    assert hashlib.sha256(data).hexdigest() == sha
