"""The bytes of each file: deterministic from (archive seed, file index, generation).

Rules:
- Content comes from numpy's PCG64 seeded with ``[seed, index, generation]``, drawn in
  fixed-size chunks of little-endian words, so the same triple gives the same bytes on
  every machine.
- A FITS file is one primary HDU: a header block with the file's mission metadata and a
  16-bit image of 1440 columns (one 2880-byte block per row) of random pixels. Its
  ``DATASUM`` is summed in a first pass over the random stream, then the header and data
  are written in one sequential pass.
- A blob is the random stream itself, cut to the exact size.
- Writers stream to an open binary file and return the content's SHA-256; where the bytes
  land (temporary names, renames) is :mod:`skyhaul.sim.cache`'s business.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import BinaryIO

import numpy as np

from skyhaul.sim.archive import FITS_BLOCK, ArchiveFile
from skyhaul.sim.fitsgen import Card, add_sums, ones_complement_sum, primary_header

_CHUNK = FITS_BLOCK * 2048  # 5.6 MiB; a multiple of 8 and of the FITS block
_ROW_PIXELS = FITS_BLOCK // 2


def write_content(out: BinaryIO, file: ArchiveFile, generation: int, seed: int) -> str:
    """Write the content of ``file`` at ``generation`` to ``out``.

    Parameters
    ----------
    out : BinaryIO
        Open binary file, positioned where the content starts.
    file : ArchiveFile
        Which file.
    generation : int
        Which version of its content (0 is the first).
    seed : int
        The archive's seed.

    Returns
    -------
    str
        SHA-256 of the bytes written, in hex.
    """
    digest = hashlib.sha256()
    size = file.size_at(generation)
    if file.kind == "blob":
        for chunk in _random_chunks(seed, file.index, generation, size):
            digest.update(chunk)
            out.write(chunk)
        return digest.hexdigest()
    data_size = size - FITS_BLOCK
    datasum = 0
    for chunk in _random_chunks(seed, file.index, generation, data_size):
        datasum = add_sums(datasum, ones_complement_sum(chunk))
    header = primary_header(_cards(file, generation, seed, data_size // FITS_BLOCK), datasum)
    if len(header) != FITS_BLOCK:
        raise AssertionError("the simulator's FITS header must fit in one block")
    digest.update(header)
    out.write(header)
    for chunk in _random_chunks(seed, file.index, generation, data_size):
        digest.update(chunk)
        out.write(chunk)
    return digest.hexdigest()


def _random_chunks(seed: int, index: int, generation: int, size: int) -> Iterator[memoryview]:
    return random_chunks((seed, index, generation), size)


def random_chunks(entropy: Sequence[int], size: int) -> Iterator[memoryview]:
    """Yield ``size`` random bytes in chunks, the same on every machine for ``entropy``.

    Parameters
    ----------
    entropy : sequence of int
        Seed of numpy's PCG64 (through a ``SeedSequence``).
    size : int
        Bytes in all; every chunk but the last is 2048 FITS blocks (5.6 MiB) long.

    Yields
    ------
    memoryview
        The next chunk (valid until the next one is drawn).
    """
    bits = np.random.PCG64(np.random.SeedSequence(list(entropy)))
    left = size
    while left > 0:
        n = min(_CHUNK, left)
        words = bits.random_raw((n + 7) // 8).astype("<u8", copy=False)
        yield words.data.cast("B")[:n]
        left -= n


def _cards(file: ArchiveFile, generation: int, seed: int, rows: int) -> list[Card]:
    return [
        ("SIMPLE", True, "conforms to FITS standard"),
        ("BITPIX", 16, "array data type"),
        ("NAXIS", 2, "number of array dimensions"),
        ("NAXIS1", _ROW_PIXELS, ""),
        ("NAXIS2", rows, ""),
        ("EXTEND", True, ""),
        ("ORIGIN", "skyhaul-sim", "synthetic archive, not real data"),
        ("TELESCOP", "SOLO", "Solar Orbiter"),
        ("INSTRUME", file.instrument, "instrument"),
        ("FILENAME", file.path.rsplit("/", 1)[-1], "file name in the archive"),
        ("DATE-OBS", _fits_time(file.obs_start), "[UTC] start of observation"),
        ("DATE-BEG", _fits_time(file.obs_start), "[UTC] start of observation"),
        ("DATE-END", _fits_time(file.obs_end), "[UTC] end of observation"),
        ("DATE-DL", _fits_time(file.downlink_time), "[UTC] downlink time"),
        ("SLOTID", file.slot, "ground-station pass"),
        ("SIMSEED", seed, "skyhaul-sim archive seed"),
        ("SIMINDEX", file.index, "skyhaul-sim file index"),
        ("GENERATN", generation, "content generation"),
    ]


def _fits_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")
