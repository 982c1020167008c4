"""Where a package's tar lives at each type of location (the issue's decisions, in one
place): hidden at its source while it is made, by name at a buffer, by observation unit
at a long-term archive (its sidecar beside it)."""

from __future__ import annotations

from skyhaul.core.packages import Package

__all__ = ["archive_path", "buffer_path", "source_tar_path"]


def source_tar_path(package: Package) -> str:
    """Where a package's tar is written at its source (a hidden directory scans skip)."""
    return f".skyhaul/packages/{package.name}"


def buffer_path(package: Package) -> str:
    """Where a package's tar lives at a buffer."""
    return f"packages/{package.name}"


def archive_path(package: Package) -> str:
    """Where a package's tar lives at a long-term archive."""
    return f"packages/{package.obs_unit}/{package.name}"
