"""Which Celery queue an observatory operation is published on: one queue per site,
location and operation kind, ``{site}_{location}_{kind}`` (as CCAT names them).

Rules:
- An operation belongs to one location, its *home*: the storage its worker acts at, so
  a worker listens only on the queues of storage it can reach. ``OPERATION_HOMES`` says
  which end is home for each kind:

  ====================  ============  =================================================
  kind                  home          why
  ====================  ============  =================================================
  create_package        source        the tar is written there (then moved to a buffer
                                      of the same site)
  transfer              source        the buffer: the sending side pushes, as CCAT's
                                      transfers run at the origin; the worker must also
                                      reach the destination archive
  unpack_verify         destination   the archive is read whole
  archive               destination   the sidecar is written at the archive
  stage                 destination   the processing location is written
  delete                source        the copy deleted (source or buffer)
  ====================  ============  =================================================

- Site and location names are single path-safe words (:func:`skyhaul.core.sites.check_name`),
  so every queue name is made of letters, digits, ``.``, ``_`` and ``-``: safe for Redis
  keys and Celery's ``-Q``. Names may themselves hold ``_``, so two locations could in
  principle give one queue prefix (``a_b/c`` and ``a/b_c``); ``colliding_locations``
  finds such pairs, and whoever publishes refuses them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from skyhaul.core.operations import Operation, OperationKind
from skyhaul.core.sites import check_name

__all__ = [
    "OPERATION_HOMES",
    "OperationEnd",
    "colliding_locations",
    "home_location",
    "location_queues",
    "operation_home",
    "operation_queue",
]


class OperationEnd(StrEnum):
    """Which of an operation's locations is its home."""

    SOURCE = "source"
    DESTINATION = "destination"


OPERATION_HOMES: dict[OperationKind, OperationEnd] = {
    OperationKind.CREATE_PACKAGE: OperationEnd.SOURCE,
    OperationKind.TRANSFER: OperationEnd.SOURCE,
    OperationKind.UNPACK_VERIFY: OperationEnd.DESTINATION,
    OperationKind.ARCHIVE: OperationEnd.DESTINATION,
    OperationKind.STAGE: OperationEnd.DESTINATION,
    OperationKind.DELETE: OperationEnd.SOURCE,
}


def home_location(
    kind: OperationKind, source_location: int | None, destination_location: int | None
) -> int | None:
    """The id of the home location of an operation of ``kind`` with these ends."""
    if OPERATION_HOMES[OperationKind(kind)] is OperationEnd.SOURCE:
        return source_location
    return destination_location


def operation_home(operation: Operation) -> int | None:
    """The id of ``operation``'s home location."""
    return home_location(operation.kind, operation.source_location, operation.destination_location)


def operation_queue(site: str, location: str, kind: OperationKind | str) -> str:
    """The queue of operations of ``kind`` at location ``site/location``.

    Raises
    ------
    ValueError
        For a site or location name that is not one path-safe word, or an unknown kind.
    """
    check_name("site", site)
    check_name("location", location)
    return f"{site}_{location}_{OperationKind(kind).value}"


def location_queues(
    site: str, location: str, kinds: Iterable[OperationKind] = tuple(OperationKind)
) -> list[str]:
    """The queues of every kind (or ``kinds``) at ``site/location``, in kind order."""
    return [operation_queue(site, location, kind) for kind in kinds]


def colliding_locations(refs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Pairs of ``SITE/NAME`` references whose queues would have one name."""
    seen: dict[str, str] = {}
    clashes = []
    for site, name in refs:
        prefix, ref = f"{site}_{name}", f"{site}/{name}"
        other = seen.setdefault(prefix, ref)
        if other != ref:
            clashes.append((other, ref))
    return clashes
