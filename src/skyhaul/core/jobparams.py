"""A job's parameters as JSON: enough to run it again (``skyhaul jobs resume``).

Rules:
- Selections and transfer options round-trip exactly:
  ``selection_from_json(selection_to_json(s)) == s`` (a test checks every field).
- Secrets are never written: credentials are left out of the options, and a resumed job
  reads them again from its source's configuration.
- Times are ISO 8601 UTC text; states are their names. An unknown key is ignored, so an
  older reader survives a newer writer; a missing one takes its default.
- Pure: standard library only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from skyhaul.core.fitsquery import parse_condition
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import Selection, TransferOptions

__all__ = [
    "options_from_json",
    "options_to_json",
    "selection_from_json",
    "selection_to_json",
]

_TIMES = (
    "obs_start",
    "obs_end",
    "downlink_start",
    "downlink_end",
    "downloaded_start",
    "downloaded_end",
)
_SECRET_OPTIONS = frozenset({"credentials"})


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"a time must be ISO 8601 text, got {value!r}")
    return datetime.fromisoformat(value)


def selection_to_json(selection: Selection) -> dict[str, Any]:
    """The selection as a JSON-ready dict (fields that select nothing are left out)."""
    out: dict[str, Any] = {}
    if selection.states is not None:
        out["states"] = sorted(state.value for state in selection.states)
    if selection.ids is not None:
        out["ids"] = list(selection.ids)
    for name in ("source", "instrument", "url_prefix"):
        value = getattr(selection, name)
        if value is not None:
            out[name] = value
    for name in _TIMES:
        value = getattr(selection, name)
        if value is not None:
            out[name] = _iso(value)
    if selection.downlink_windows is not None:
        out["downlink_windows"] = [[_iso(a), _iso(b)] for a, b in selection.downlink_windows]
    if selection.headers is not None:
        out["headers"] = [str(condition) for condition in selection.headers]
    return out


def selection_from_json(data: Mapping[str, Any]) -> Selection:
    """Read a selection written by :func:`selection_to_json`.

    Raises
    ------
    ValueError
        For a value of the wrong kind.
    """
    states = data.get("states")
    ids = data.get("ids")
    windows = data.get("downlink_windows")
    headers = data.get("headers")
    return Selection(
        states=None if states is None else frozenset(FileState(s) for s in states),
        ids=None if ids is None else tuple(int(i) for i in ids),
        source=data.get("source"),
        instrument=data.get("instrument"),
        url_prefix=data.get("url_prefix"),
        downlink_windows=None
        if windows is None
        else tuple((_required_time(a), _required_time(b)) for a, b in windows),
        headers=None if headers is None else tuple(parse_condition(str(c)) for c in headers),
        **{name: _time(data.get(name)) for name in _TIMES},
    )


def _required_time(value: object) -> datetime:
    moment = _time(value)
    if moment is None:
        raise ValueError("a window needs both its times")
    return moment


def options_to_json(options: TransferOptions) -> dict[str, Any]:
    """The transfer options as a JSON-ready dict, credentials left out."""
    return {
        f.name: getattr(options, f.name)
        for f in dataclasses.fields(options)
        if f.name not in _SECRET_OPTIONS
    }


def options_from_json(data: Mapping[str, Any]) -> TransferOptions:
    """Read options written by :func:`options_to_json` (no credentials: add them after)."""
    known = {f.name for f in dataclasses.fields(TransferOptions)} - _SECRET_OPTIONS
    return TransferOptions(**{key: value for key, value in data.items() if key in known})
