"""FITS files made with astropy for the tests, and a plain HTTP server to fetch them from.

``serving(directory)`` is Python's own ``http.server`` on loopback: it serves any file,
whole (no ranges), which is all a small FITS file needs.
"""

from __future__ import annotations

import gzip
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import numpy as np
from astropy.io import fits
from tests.loopback_http import LoopbackHTTPServer

#: Cards of the primary header of :func:`fits_bytes` (JWST-like: TARG_RA, DATE/TIME-OBS).
PRIMARY_CARDS: dict[str, object] = {
    "TELESCOP": "JWST",
    "INSTRUME": "NIRCAM",
    "DETECTOR": "NRCA1",
    "FILTER": "F277W",
    "TARGNAME": "NGC 3132",
    "TARG_RA": 151.757,
    "TARG_DEC": -40.436,
    "DATE-OBS": "2022-06-03",
    "TIME-OBS": "12:30:00.250",
}


def hdu_list(*, science: bool = True, **cards: object) -> fits.HDUList:
    """A primary HDU with ``PRIMARY_CARDS`` (and ``cards``), a table, and an image named SCI."""
    primary = fits.PrimaryHDU()
    for keyword, value in {**PRIMARY_CARDS, **cards}.items():
        primary.header[keyword] = value
    primary.header["HISTORY"] = "made by the skyhaul tests"
    table = fits.BinTableHDU.from_columns(
        [fits.Column("flux", "E", array=np.linspace(0, 1, 9))], name="CAT"
    )
    hdus = [primary, table]
    if science:
        image = fits.ImageHDU(np.arange(600, dtype=">i2").reshape(20, 30), name="SCI")
        image.header["XPOSURE"] = 1234.5
        hdus.append(image)
    return fits.HDUList(hdus)


def fits_bytes(*, checksum: bool = True, science: bool = True, **cards: object) -> bytes:
    """A FITS file: CHECKSUM and DATASUM in every HDU when ``checksum``."""
    out = io.BytesIO()
    hdu_list(science=science, **cards).writeto(out, checksum=checksum)
    return out.getvalue()


def with_wrong_datasum(data: bytes, index: int = 2) -> bytes:
    """``data`` rewritten by astropy with HDU ``index`` claiming a DATASUM its data lack."""
    with fits.open(io.BytesIO(data)) as hdus:
        hdus[index].header["DATASUM"] = str(int(hdus[index].header["DATASUM"]) + 1)
        out = io.BytesIO()
        hdus.writeto(out, checksum=False)  # the cards are written as set
    return out.getvalue()


def with_flipped_byte(data: bytes, offset: int) -> bytes:
    """``data`` with one bit flipped at ``offset``."""
    changed = bytearray(data)
    changed[offset] ^= 1
    return bytes(changed)


def gzipped(data: bytes) -> bytes:
    """``data`` gzip-compressed (a ``.fits.gz``)."""
    return gzip.compress(data, mtime=0)


@contextmanager
def serving(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on loopback; yield the base URL (ending in ``/``)."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = LoopbackHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(directory)))
    # Polled every 0.01 s (not 0.5 s), so that shutting down at the end of a test is quick.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
