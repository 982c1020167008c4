"""A package's bytes: its tar written at the source, checked at its destination, and the
metadata sidecar an archive keeps beside it.

Rules:
- ``build_package`` reads each member once, from its location, as it writes the tar to a
  location (the source's package area): every member's sha256 and the tar's come from
  that one pass. A member whose bytes are not those the catalog registered (its sha256)
  fails the package with ``IntegrityError``, and the tar never takes its final name.
- ``verify_package`` reads a stored tar whole and compares the tar's sha256 and every
  member's with what the catalog holds; any difference (a flipped byte, a missing or
  extra member) is an ``IntegrityError``. Verification is what lets a package be called
  archived and its sources be deleted later, so nothing is skipped.
- The sidecar is JSON beside the tar (``NAME.tar.json``): the package, its members and
  their checksums, the observation unit and the instrument module, so an archive can be
  read without the catalog.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from skyhaul.adapters.tarpack import TarMember, TarResult, scan_tar, write_tar
from skyhaul.errors import IntegrityError
from skyhaul.ports.locations import LocationStorage

__all__ = ["MemberSource", "build_package", "sidecar_path", "verify_package", "write_sidecar"]


@dataclass(frozen=True, slots=True)
class MemberSource:
    """A raw file to pack.

    Parameters
    ----------
    path : str
        Its path at its location, which is also its path in the tar.
    size : int
        Its registered size.
    sha256 : str
        Its registered sha256 (hex).
    mtime : float
        Its modification time (seconds since the epoch).
    """

    path: str
    size: int
    sha256: str
    mtime: float = 0.0


async def build_package(
    source: LocationStorage,
    members: Sequence[MemberSource],
    dest: LocationStorage,
    tar_path: str,
) -> TarResult:
    """Write the tar of ``members`` (read from ``source``) at ``tar_path`` of ``dest``.

    Raises
    ------
    IntegrityError
        A member's bytes are not the registered ones (size or sha256).
    """
    tar_members = [
        TarMember(m.path, m.size, m.mtime, partial(source.open_read, m.path)) for m in members
    ]
    writer = await dest.writer(tar_path)
    try:
        result = await write_tar(tar_members, writer)
        _check_members(tar_path, result, {m.path: m.sha256 for m in members})
        await writer.commit()
    except BaseException:
        await writer.abort()
        raise
    return result


async def verify_package(
    storage: LocationStorage, tar_path: str, *, sha256: str, members: Mapping[str, str]
) -> TarResult:
    """Read the tar at ``tar_path`` whole; check its sha256 and each member's.

    Raises
    ------
    IntegrityError
        Any byte differs from the catalog's checksums, or a member is missing or extra.
    """
    result = await scan_tar(storage.open_read(tar_path))
    if result.sha256 != sha256:
        raise IntegrityError(f"{tar_path}: sha256 {result.sha256}, the catalog has {sha256}")
    _check_members(tar_path, result, members)
    return result


def sidecar_path(tar_path: str) -> str:
    """Where the sidecar of the tar at ``tar_path`` lives."""
    return tar_path + ".json"


async def write_sidecar(
    storage: LocationStorage, tar_path: str, document: Mapping[str, object]
) -> None:
    """Write ``document`` as the JSON sidecar beside ``tar_path`` (whole or not at all)."""
    data = json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"
    writer = await storage.writer(sidecar_path(tar_path))
    try:
        await writer.write(data)
        await writer.commit()
    except BaseException:
        await writer.abort()
        raise


def _check_members(tar_path: str, result: TarResult, expected: Mapping[str, str]) -> None:
    found = {entry.path: entry.sha256 for entry in result.members}
    wrong = sorted(path for path, sha in expected.items() if found.get(path) != sha)
    extra = sorted(set(found) - set(expected))
    if wrong or extra:
        shown = ", ".join((wrong + extra)[:3])
        raise IntegrityError(
            f"{tar_path}: {len(wrong)} member(s) differ from the catalog's checksums and"
            f" {len(extra)} are not in it ({shown})"
        )
