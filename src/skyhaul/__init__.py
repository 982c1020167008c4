"""skyhaul: acquire science data files from remote archives, resumably and verified."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
