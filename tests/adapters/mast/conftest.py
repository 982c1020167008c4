"""The MAST adapter's tests use the fixtures of :mod:`tests.adapters.mast.fixtures`."""

from __future__ import annotations

from tests.adapters.mast.fixtures import fake, mast, sleeps

__all__ = ["fake", "mast", "sleeps"]
