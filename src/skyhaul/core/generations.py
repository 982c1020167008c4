"""The generation policy: what a receiver does with a chunk of a file it already holds.

Rules:
- A producer sends a file again when it changes (a new generation). Chunks of several
  generations of one path can reach a receiver in any order, so every chunk is compared
  with the generation the receiver holds for that path, and ``GENERATION_POLICY`` alone
  decides; there are no defaults and no other branches.
- The comparison is three relations: the file hash (same or different), the chunk count
  (more, same or fewer than held) and the modification time (newer, same or older):

  ========  ==========  =========  ==========================================
  hash      count       mtime      action
  ========  ==========  =========  ==========================================
  same      same        any        ACCEPT: the same generation
  same      differs     any        CORRUPT: one content cannot have two layouts
  differs   more        any        ADOPT: a newer, larger upload; reset and adopt
  differs   same        newer      ADOPT: rewritten at the same size; reset and adopt
  differs   same        same/older SKIP: stale, or no way to tell which is newer
  differs   fewer       any        SKIP: stale
  ========  ==========  =========  ==========================================

- ADOPT means the receiver drops what it holds for the path (part file, chunk map) and
  holds the chunk's generation instead. CORRUPT is an error of that file (it is marked
  failed and its chunks are dropped), never an exception that crashes the receiver into a
  redelivery loop. SKIP acknowledges and drops the chunk.
- A chunk of a path the receiver holds nothing of is accepted (``decide(None, ...)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class GenerationAction(StrEnum):
    """What the receiver does with a chunk, given the generation it holds."""

    ACCEPT = "accept"
    ADOPT = "adopt"
    SKIP = "skip"
    CORRUPT = "corrupt"


class HashRelation(StrEnum):
    """The chunk's file hash against the held one."""

    SAME = "same"
    DIFFERENT = "different"


class Order(StrEnum):
    """The chunk's value (chunk count, modification time) against the held one."""

    MORE = "more"
    SAME = "same"
    LESS = "less"


@dataclass(frozen=True, slots=True)
class Generation:
    """What identifies one upload of a file, as its chunks announce it.

    Parameters
    ----------
    file_hash : str
        The whole file's hash.
    count : int
        How many chunks it has.
    mtime_ns : int
        Its modification time when read, in nanoseconds.
    """

    file_hash: str
    count: int
    mtime_ns: int


A = GenerationAction
H = HashRelation
O = Order  # noqa: E741 (a table reads best with one-letter row keys)

#: ``(hash, count, mtime) -> action``: every combination, one row each.
GENERATION_POLICY: dict[tuple[HashRelation, Order, Order], GenerationAction] = {
    (H.SAME, O.SAME, O.MORE): A.ACCEPT,
    (H.SAME, O.SAME, O.SAME): A.ACCEPT,
    (H.SAME, O.SAME, O.LESS): A.ACCEPT,
    (H.SAME, O.MORE, O.MORE): A.CORRUPT,
    (H.SAME, O.MORE, O.SAME): A.CORRUPT,
    (H.SAME, O.MORE, O.LESS): A.CORRUPT,
    (H.SAME, O.LESS, O.MORE): A.CORRUPT,
    (H.SAME, O.LESS, O.SAME): A.CORRUPT,
    (H.SAME, O.LESS, O.LESS): A.CORRUPT,
    (H.DIFFERENT, O.MORE, O.MORE): A.ADOPT,
    (H.DIFFERENT, O.MORE, O.SAME): A.ADOPT,
    (H.DIFFERENT, O.MORE, O.LESS): A.ADOPT,
    (H.DIFFERENT, O.SAME, O.MORE): A.ADOPT,
    (H.DIFFERENT, O.SAME, O.SAME): A.SKIP,
    (H.DIFFERENT, O.SAME, O.LESS): A.SKIP,
    (H.DIFFERENT, O.LESS, O.MORE): A.SKIP,
    (H.DIFFERENT, O.LESS, O.SAME): A.SKIP,
    (H.DIFFERENT, O.LESS, O.LESS): A.SKIP,
}

#: ``(incoming > held, incoming == held) -> Order``: the comparison as a lookup.
_ORDER = {(True, False): O.MORE, (False, True): O.SAME, (False, False): O.LESS}


def _order(incoming: int, held: int) -> Order:
    return _ORDER[(incoming > held, incoming == held)]


def decide(held: Generation | None, incoming: Generation) -> GenerationAction:
    """Return what to do with a chunk of generation ``incoming`` while holding ``held``.

    Parameters
    ----------
    held : Generation or None
        The generation the receiver holds for the chunk's path (in progress or complete),
        or None when it holds nothing of it.
    incoming : Generation
        The generation the chunk announces.

    Returns
    -------
    GenerationAction
        The row of ``GENERATION_POLICY`` that the three relations select.
    """
    if held is None:
        return A.ACCEPT
    same_hash = incoming.file_hash == held.file_hash
    key = (
        H.SAME if same_hash else H.DIFFERENT,
        _order(incoming.count, held.count),
        _order(incoming.mtime_ns, held.mtime_ns),
    )
    return GENERATION_POLICY[key]
