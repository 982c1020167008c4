"""The bytes of each MAST product: deterministic from (dataset seed, product index).

Rules:
- A FITS product is a primary HDU without data, whose header carries the observation's
  values (``TELESCOP``, ``INSTRUME``, ``DETECTOR``, ``FILTER``, ``TARGNAME``,
  ``RA_TARG``, ``DEC_TARG``, ``DATE-OBS``, ``EXPTIME``, ``OBS_ID``, ``FILENAME``), then
  one image extension ``SCI`` of random 16-bit pixels (1440 a row, one FITS block). Both
  HDUs carry ``CHECKSUM`` and ``DATASUM``; a ``bad_datasum`` product's SCI sums are
  made for other data, so both checks fail there.
- JSON, text and ECSV products are small documents padded to their exact size with
  whitespace or a comment; a JPEG preview is a JFIF header, random bytes and an end
  marker.
- Random bytes come from :func:`skyhaul.sim.content.random_chunks` seeded with
  ``(seed, "MAST", index)``, so they never repeat an archive file's.
- :func:`write_product` streams to an open file and returns two SHA-256s: of the bytes
  (S3's copy) and of what HTTP serves (the same but for a ``corrupt_http`` product's
  flipped bytes).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from skyhaul.sim.archive import FITS_BLOCK
from skyhaul.sim.content import random_chunks
from skyhaul.sim.fitsgen import Card, add_sums, hdu_header, ones_complement_sum
from skyhaul.sim.mast.dataset import MastProduct
from skyhaul.sim.mast.products import ProductKind

_MAST = 0x4D415354  # "MAST": keeps these streams apart from the archive files'
_ROW_PIXELS = FITS_BLOCK // 2

CONTENT_TYPES: dict[ProductKind, str] = {
    "fits": "application/fits",
    "json": "application/json",
    "txt": "text/plain",
    "ecsv": "text/plain",
    "jpg": "image/jpeg",
}
"""``Content-Type`` of each kind of product."""


@dataclass(frozen=True)
class ProductDigests:
    """SHA-256 (hex) of a product's bytes and of what HTTP serves of it."""

    sha256: str
    http_sha256: str


def write_product(out: BinaryIO, product: MastProduct, seed: int) -> ProductDigests:
    """Write ``product``'s bytes to ``out``.

    Parameters
    ----------
    out : BinaryIO
        Open binary file, positioned where the content starts.
    product : MastProduct
        Which product.
    seed : int
        The dataset's seed.

    Returns
    -------
    ProductDigests
        SHA-256 of the bytes written and of the bytes HTTP serves.
    """
    digests = _Digests(product.corrupt_offsets)
    chunks = _fits(product, seed) if product.kind == "fits" else iter([_small(product, seed)])
    for chunk in chunks:
        digests.update(chunk)
        out.write(chunk)
    if digests.written != product.size:
        raise AssertionError(f"{product.filename}: wrote {digests.written} of {product.size}")
    return digests.result()


class _Digests:
    def __init__(self, flips: tuple[int, ...]) -> None:
        self._plain = hashlib.sha256()
        self._http = hashlib.sha256()
        self._flips = flips
        self.written = 0

    def update(self, chunk: bytes | memoryview) -> None:
        self._plain.update(chunk)
        hits = [at - self.written for at in self._flips if 0 <= at - self.written < len(chunk)]
        if hits:
            flipped = bytearray(chunk)
            for at in hits:
                flipped[at] ^= 0xFF
            self._http.update(flipped)
        else:
            self._http.update(chunk)
        self.written += len(chunk)

    def result(self) -> ProductDigests:
        return ProductDigests(self._plain.hexdigest(), self._http.hexdigest())


def _fits(product: MastProduct, seed: int) -> Iterator[bytes | memoryview]:
    data_size = product.size - 2 * FITS_BLOCK
    entropy = (seed, _MAST, product.index)
    datasum = 0
    for chunk in random_chunks(entropy, data_size):
        datasum = add_sums(datasum, ones_complement_sum(chunk))
    claimed = (datasum + 1) & 0xFFFFFFFF if product.bad_datasum else datasum
    yield _one_block(hdu_header(_primary_cards(product, seed), 0))
    yield _one_block(hdu_header(_sci_cards(data_size // FITS_BLOCK), claimed))
    yield from random_chunks(entropy, data_size)


def _one_block(header: bytes) -> bytes:
    if len(header) != FITS_BLOCK:
        raise AssertionError("the simulator's MAST headers must fit in one block")
    return header


def _primary_cards(product: MastProduct, seed: int) -> list[Card]:
    observation = product.observation
    plan = observation.plan
    return [
        ("SIMPLE", True, "conforms to FITS standard"),
        ("BITPIX", 8, "array data type"),
        ("NAXIS", 0, "no data in the primary HDU"),
        ("EXTEND", True, "extensions follow"),
        ("ORIGIN", "skyhaul-sim", "synthetic archive, not real data"),
        ("TELESCOP", observation.obs_collection, "telescope"),
        ("INSTRUME", observation.instrument, "instrument"),
        ("DETECTOR", plan.detector, "detector"),
        ("FILTER", plan.filters, "filter"),
        ("TARGNAME", observation.target.name, "target name"),
        ("RA_TARG", observation.s_ra, "[deg] right ascension (ICRS)"),
        ("DEC_TARG", observation.s_dec, "[deg] declination (ICRS)"),
        ("DATE-OBS", observation.date_obs, "[UTC] start of observation"),
        ("EXPTIME", plan.exptime, "[s] exposure time"),
        ("OBS_ID", observation.obs_id, "observation id"),
        ("FILENAME", product.filename, "product file name"),
        ("SIMSEED", seed, "skyhaul-sim MAST dataset seed"),
        ("SIMINDEX", product.index, "skyhaul-sim MAST product index"),
    ]


def _sci_cards(rows: int) -> list[Card]:
    return [
        ("XTENSION", "IMAGE", "image extension"),
        ("BITPIX", 16, "array data type"),
        ("NAXIS", 2, "number of array dimensions"),
        ("NAXIS1", _ROW_PIXELS, ""),
        ("NAXIS2", rows, ""),
        ("PCOUNT", 0, "number of parameters"),
        ("GCOUNT", 1, "number of groups"),
        ("EXTNAME", "SCI", "extension name"),
        ("EXTVER", 1, "extension version"),
        ("BUNIT", "DN/s", "brightness unit"),
    ]


def _small(product: MastProduct, seed: int) -> bytes:
    rng = random.Random(f"skyhaul-sim-mast/{seed}/{product.index}")
    size = product.size
    if product.kind == "jpg":
        jfif = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        return jfif + rng.randbytes(size - len(jfif) - 2) + b"\xff\xd9"
    if product.kind == "json":
        text = json.dumps(_json_document(product, rng), indent=2)
        return _padded(text.encode(), size, b" ")
    lines = _ecsv_lines(rng) if product.kind == "ecsv" else _log_lines(product, rng)
    body = b""
    for line in lines:
        if len(body) + len(line) > size - 3:  # keep room for the padding comment
            break
        body += line
    return _padded(body + b"#", size, b" ")


def _padded(body: bytes, size: int, fill: bytes) -> bytes:
    if len(body) + 1 > size:
        raise AssertionError(f"a {len(body)}-byte document does not fit in {size} bytes")
    return body + fill * (size - len(body) - 1) + b"\n"


def _json_document(product: MastProduct, rng: random.Random) -> dict[str, object]:
    observation = product.observation
    return {
        "asn_type": product.name.subgroup.lower(),
        "asn_id": f"o{rng.randint(1, 999):03d}",
        "program": observation.plan.proposal_id,
        "target": observation.target.name,
        "products": [
            {
                "name": observation.obs_id,
                "members": [
                    {"expname": f"{observation.obs_id}_{k:05d}", "exptype": "science"}
                    for k in range(1, 4)
                ],
            }
        ],
    }


def _ecsv_lines(rng: random.Random) -> Iterator[bytes]:
    yield b"# %ECSV 1.0\n# ---\n# datatype:\n"
    for name, kind in (("id", "int64"), ("ra", "float64"), ("dec", "float64"), ("flux", "float64")):
        yield f"# - {{name: {name}, datatype: {kind}}}\n".encode()
    yield b"id ra dec flux\n"
    for k in range(1, 1_000_000):
        ra, dec, flux = rng.uniform(0, 360), rng.uniform(-90, 90), rng.uniform(0, 1e4)
        yield f"{k} {ra:.7f} {dec:.7f} {flux:.4f}\n".encode()


def _log_lines(product: MastProduct, rng: random.Random) -> Iterator[bytes]:
    yield f"skyhaul-sim processing log for {product.filename}\n".encode()
    for k in range(1, 1_000_000):
        step = rng.choice(("calibrate", "flat-field", "resample", "combine", "verify"))
        yield f"{k:06d} {step:<10} OK {rng.random():.6f}\n".encode()
