"""FITS files: checked before promotion, their headers read (see :mod:`.check`)."""

from __future__ import annotations

from skyhaul.adapters.fits.check import FitsCheck, check_fits, named_fits

__all__ = ["FitsCheck", "check_fits", "named_fits"]
