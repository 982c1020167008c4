"""The FITS content check (``fits_metadata``): structure and sums verified, headers read.

Rules:
- A file is FITS when its name says so (``.fits``, ``.fit``, ``.fts``, each maybe with
  ``.gz``, in any case) or when its bytes start with ``SIMPLE  =``. A file named FITS
  must be FITS: anything else is an integrity failure. Other files pass unchecked.
- Compressed or not is read from the bytes (gzip's magic number), not from the name: a
  server that decompressed a ``.fits.gz`` on the way still serves a FITS file.
- The walk (:mod:`.walk`) runs in a thread of the check's own small pool, so that large
  files being summed never hold up the run's other thread work (writes, promotions).
- A cancelled check stops at its next piece, and ``inspect`` returns only once the
  thread has let go of the bytes: the caller may close the sink at once.
- The headers kept are bounded (``FitsHeaders.bounded``) before they leave the thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from skyhaul.adapters.fits.streams import ByteStream, GzipStream, PlainStream, read_exactly
from skyhaul.adapters.fits.walk import walk
from skyhaul.core.fitsheaders import FitsHeaders
from skyhaul.errors import IntegrityError
from skyhaul.ports.content import Readable

__all__ = ["FITS_SUFFIXES", "FitsCheck", "check_fits", "named_fits"]

log = logging.getLogger("skyhaul.engine")

#: Names of FITS files (each may also end in ``.gz``).
FITS_SUFFIXES = (".fits", ".fit", ".fts")
_FITS_MAGIC = b"SIMPLE  ="
_GZIP_MAGIC = b"\x1f\x8b"


def named_fits(name: str) -> bool:
    """Whether ``name`` is a FITS file's name (see the rules)."""
    lower = name.lower()
    return lower.removesuffix(".gz").endswith(FITS_SUFFIXES)


def check_fits(
    content: Readable, size: int, name: str, stop: threading.Event | None = None
) -> FitsHeaders | None:
    """Check ``size`` bytes of ``content`` as FITS when they are FITS (blocking).

    Returns
    -------
    FitsHeaders or None
        The headers kept (bounded); None when the content is not FITS.

    Raises
    ------
    IntegrityError
        A file named FITS that is not, is cut short, or fails a sum.
    """
    start = read_exactly(content, 0, min(size, len(_FITS_MAGIC)))
    stream: ByteStream
    if start.startswith(_FITS_MAGIC):
        stream = PlainStream(content, size)
    elif named_fits(name) and start.startswith(_GZIP_MAGIC):
        stream = GzipStream(content, size)
    elif named_fits(name):
        raise IntegrityError("not a FITS file: it does not start with SIMPLE =")
    else:
        return None
    headers = walk(stream, stop).bounded()
    log.debug("%s: FITS verified (%d bytes read)", name, stream.position)
    return headers


class FitsCheck:
    """The FITS check of a run (:class:`~skyhaul.ports.content.ContentCheck`).

    Parameters
    ----------
    workers : int or None
        Threads checking at once (default: two, or one on a single core).
    """

    def __init__(self, workers: int | None = None) -> None:
        self._workers = workers or min(2, os.cpu_count() or 1)
        self._pool: ThreadPoolExecutor | None = None

    async def inspect(self, content: Readable, size: int, name: str) -> FitsHeaders | None:
        """Check the bytes in a worker thread (see :func:`check_fits`)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="skyhaul-fits")
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        checked = loop.run_in_executor(self._pool, check_fits, content, size, name, stop)
        try:
            return await asyncio.shield(checked)
        except asyncio.CancelledError:
            stop.set()
            await asyncio.wait([checked])  # it stops at its next piece
            raise

    def close(self) -> None:
        """Let the threads go (checks under way finish first)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
