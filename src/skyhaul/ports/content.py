"""The content-check seam: what a file's verified bytes say, before they are promoted.

Rules:
- A check runs after size and checksum verification and before ``Sink.commit``: it sees
  the complete bytes under their part name, never a final name.
- It reads them through ``read_at`` (the sink's open descriptor), never by path: the
  bytes checked are the bytes promoted, whatever happens to the names meanwhile.
- It runs off the event loop, with bounded memory whatever the file's size; a cancelled
  check stops reading before its caller goes on (so the sink may be closed then).
- Content that is not what it claims to be (a FITS file that does not open, is cut
  short or fails its own CHECKSUM or DATASUM) raises ``IntegrityError``: the transfer
  forgets the bytes and the file is fetched again, never promoted. Content the check
  does not apply to passes with None.
- The one check today is FITS (``adapters.fits.FitsCheck``, with ``fits_metadata``).
"""

from __future__ import annotations

from typing import Protocol

from skyhaul.core.fitsheaders import FitsHeaders

__all__ = ["ContentCheck", "Readable"]


class Readable(Protocol):
    """Bytes readable at offsets (a :class:`~skyhaul.ports.sink.Sink` is)."""

    def read_at(self, offset: int, size: int) -> bytes:
        """Read up to ``size`` bytes at ``offset`` (fewer only at the end)."""


class ContentCheck(Protocol):
    """Checks a file's verified bytes and reads what they say about themselves."""

    async def inspect(self, content: Readable, size: int, name: str) -> FitsHeaders | None:
        """Check ``size`` bytes of ``content``, destined for ``name`` (its relative path).

        Returns
        -------
        FitsHeaders or None
            The headers of a FITS file; None for content the check does not apply to.

        Raises
        ------
        IntegrityError
            The content is not what it claims to be.
        DiskError
            The bytes could not be read.
        """

    def close(self) -> None:
        """Release the check's threads (after the run's last transfer)."""
