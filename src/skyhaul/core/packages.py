"""Raw instrument files and the tar packages they travel in.

Rules:
- A raw file is registered once per ``(location, path)``; it belongs to at most one
  package (``package_id``), set once, when its package is created.
- A package holds the files of one executed observation unit and one instrument module.
  ``plan_packages`` groups the unpackaged files so, each group sorted by path, and cuts
  a group greedily where the next file would take the members past ``max_size`` (the
  bytes of the members; tar headers are not counted). A file larger than ``max_size``
  is a package of its own: it is never split and never left behind.
- Package names are ``{obs_unit}_{instrument_module}_{n:03d}.tar`` (characters that are
  not path-safe made ``_``), numbered from 1 past the names already taken, so planning
  again later never reuses a name.
- A package's state changes only through ``PACKAGE_STATES``::

      WAITING --start_transfer--> TRANSFERRING --archived--> ARCHIVED
      WAITING | TRANSFERRING --failed--> FAILED --retry--> WAITING
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import groupby

from skyhaul.core.statetable import StateTable


class PackageState(StrEnum):
    """Where a package stands."""

    WAITING = "WAITING"
    TRANSFERRING = "TRANSFERRING"
    ARCHIVED = "ARCHIVED"
    FAILED = "FAILED"


class PackageEvent(StrEnum):
    """What can happen to a package."""

    START_TRANSFER = "start_transfer"
    ARCHIVED = "archived"
    FAILED = "failed"
    RETRY = "retry"


PACKAGE_STATES: StateTable[PackageState, PackageEvent] = StateTable(
    "package",
    {
        (PackageState.WAITING, PackageEvent.START_TRANSFER): PackageState.TRANSFERRING,
        (PackageState.TRANSFERRING, PackageEvent.ARCHIVED): PackageState.ARCHIVED,
        (PackageState.WAITING, PackageEvent.FAILED): PackageState.FAILED,
        (PackageState.TRANSFERRING, PackageEvent.FAILED): PackageState.FAILED,
        (PackageState.FAILED, PackageEvent.RETRY): PackageState.WAITING,
    },
)
#: The state of a package when it is created.
NEW_PACKAGE_STATE = PackageState.WAITING


def next_package_state(state: PackageState, event: PackageEvent) -> PackageState:
    """Return the state ``event`` moves a package in ``state`` to.

    Raises
    ------
    IllegalTransitionError
        When the table has no such transition.
    """
    return PACKAGE_STATES.next(state, event)


@dataclass(frozen=True, slots=True)
class RawFileSpec:
    """A raw file to register at a location (from a manifest or a scan)."""

    path: str
    size: int
    sha256: str
    obs_unit: str
    instrument_module: str


@dataclass(frozen=True, slots=True)
class RawFile:
    """A registered raw file; ``location`` is the location's id, ``path`` relative to it."""

    id: int
    location: int
    path: str
    size: int
    sha256: str
    obs_unit: str
    instrument_module: str
    registered_at: datetime
    package_id: int | None


@dataclass(frozen=True, slots=True)
class PackageMember:
    """A file in a package: its path in the tar (its path at the source) and checksum."""

    file_id: int
    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Package:
    """A raw data package; ``size`` and ``sha256`` are those of the tar once written."""

    id: int
    name: str
    obs_unit: str
    instrument_module: str
    state: PackageState
    size: int | None
    sha256: str | None
    members: tuple[PackageMember, ...]
    created_at: datetime
    error: str | None
    source_location: int


@dataclass(frozen=True, slots=True)
class PackagePlan:
    """Files to put in one package, by path, and the package's name."""

    name: str
    obs_unit: str
    instrument_module: str
    files: tuple[RawFile, ...]

    @property
    def size(self) -> int:
        """Bytes of the members."""
        return sum(file.size for file in self.files)


_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._-]")


def _safe(text: str) -> str:
    return _UNSAFE_RE.sub("_", text) or "_"


def package_name(obs_unit: str, instrument_module: str, number: int) -> str:
    """Return the name of package ``number`` (from 1) of one unit and module."""
    return f"{_safe(obs_unit)}_{_safe(instrument_module)}_{number:03d}.tar"


def plan_packages(
    files: Iterable[RawFile], max_size: int, *, taken: Collection[str] = ()
) -> list[PackagePlan]:
    """Group unpackaged files into packages (see the module's rules).

    Parameters
    ----------
    files : iterable of RawFile
        Candidates; files already in a package are left out.
    max_size : int
        Most bytes of members per package (``>= 1``), unless one file alone is larger.
    taken : collection of str
        Package names already used (new names skip them).

    Returns
    -------
    list of PackagePlan
        By (obs_unit, instrument_module), then by number.

    Raises
    ------
    ValueError
        When ``max_size`` is below 1.
    """
    if max_size < 1:
        raise ValueError(f"max_size must be at least 1 byte, got {max_size}")
    used = set(taken)
    unpackaged = sorted(
        (file for file in files if file.package_id is None),
        key=lambda file: (file.obs_unit, file.instrument_module, file.path, file.id),
    )
    plans: list[PackagePlan] = []
    for (unit, module), grouped in groupby(
        unpackaged, key=lambda file: (file.obs_unit, file.instrument_module)
    ):
        number = 0
        for batch in _cut(list(grouped), max_size):
            number += 1
            while package_name(unit, module, number) in used:
                number += 1
            name = package_name(unit, module, number)
            used.add(name)
            plans.append(PackagePlan(name, unit, module, tuple(batch)))
    return plans


def _cut(files: list[RawFile], max_size: int) -> list[list[RawFile]]:
    """Cut files (in order) into runs whose sizes add up to at most ``max_size``."""
    batches: list[list[RawFile]] = []
    batch: list[RawFile] = []
    size = 0
    for file in files:
        if batch and size + file.size > max_size:
            batches.append(batch)
            batch, size = [], 0
        batch.append(file)
        size += file.size
    if batch:
        batches.append(batch)
    return batches
