"""Name resolution: the dataset's target names to positions, as SANTA and MAST answer.

Rules:
- A name resolves when it equals a target's name or one of its aliases, ignoring case
  and runs of spaces (``"ngc  628"`` is ``"NGC 628"``); anything else resolves to
  nothing, as the real resolvers do for an unknown name.
- SANTA (``/Santa-war/query``) answers ``{"resolvedCoordinate": [...]}`` with one entry
  per name and resolver, ``searchString`` the name lower-cased: by default one entry
  from SIMBAD; the resolver asked for (``NED`` or ``SIMBAD``); with ``resolveAll`` one
  from each, and from ``TIC`` for a ``TIC`` name.
- ``Mast.Name.Lookup`` answers ``{"resolvedCoordinate": [...], "status": ""}`` with the
  first resolver's entry.
"""

from __future__ import annotations

from collections.abc import Iterable

from skyhaul.sim.mast.catalog import MastTarget
from skyhaul.sim.mast.dataset import MastDataset

RESOLVERS = ("SIMBAD", "NED")
"""The resolvers SANTA knows by name."""


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def resolve(dataset: MastDataset, name: str) -> MastTarget | None:
    """The target called ``name`` (ignoring case and extra spaces), or None."""
    wanted = _key(name)
    for target in dataset.targets:
        if wanted in {_key(n) for n in (target.name, *target.aliases)}:
            return target
    return None


def _entry(name: str, target: MastTarget, resolver: str) -> dict[str, object]:
    return {
        "searchString": name.lower(),
        "resolver": resolver,
        "cached": True,
        "resolverTime": 3,
        "searchRadius": -1.0,
        "canonicalName": target.canonical,
        "ra": target.ra,
        "decl": target.dec,
        "objectType": target.classification.split(";")[0],
    }


def santa_answer(
    dataset: MastDataset, names: Iterable[str], resolver: str | None, resolve_all: bool
) -> dict[str, object]:
    """SANTA's answer for some names.

    Parameters
    ----------
    dataset : MastDataset
        Whose targets resolve.
    names : iterable of str
        The names asked for (``name`` parameters).
    resolver : str or None
        The resolver asked for, if any (``NED`` or ``SIMBAD``; others find nothing).
    resolve_all : bool
        Answer from every resolver.

    Returns
    -------
    dict
        ``{"resolvedCoordinate": [...]}``.
    """
    found: list[dict[str, object]] = []
    for name in names:
        target = resolve(dataset, name)
        if target is None:
            continue
        if resolve_all:
            chosen = [*RESOLVERS, *(["TIC"] if _key(name).startswith("tic ") else [])]
        elif resolver is not None:
            chosen = [resolver.upper()] if resolver.upper() in RESOLVERS else []
        else:
            chosen = [RESOLVERS[0]]
        found.extend(_entry(name, target, r) for r in chosen)
    return {"resolvedCoordinate": found}


def name_lookup_answer(dataset: MastDataset, text: str) -> dict[str, object]:
    """``Mast.Name.Lookup``'s answer for ``text``."""
    target = resolve(dataset, text)
    entries = [] if target is None else [_entry(text, target, RESOLVERS[0])]
    return {"resolvedCoordinate": entries, "status": ""}
