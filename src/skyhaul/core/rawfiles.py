"""A raw instrument file as intake finds it, before the catalog gives it an id.

Rules:
- Manifests (``adapters.raw_manifest``), scans (``adapters.raw_scan``) and the simulated
  observatory all produce the same ``RawFileEntry``, so registering does not care where an
  entry came from.
- ``obs_unit`` and ``instrument_module`` become parts of package names
  (``{obs_unit}_{instrument_module}_001.tar``) and directories at the destination, so
  they are refused when they could leave a directory or hide in one: a ``/`` or ``\\``,
  control characters, or only dots.
- A sha256 is 64 hex digits, stored lower case; ``sha256:`` in front is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["LABEL_FIELDS", "RawFileEntry", "check_label", "normal_sha256"]

#: The two labels a raw file is grouped by into packages.
LABEL_FIELDS = ("obs_unit", "instrument_module")

_HEX64 = re.compile(r"[0-9a-f]{64}")
_UNSAFE_LABEL = re.compile(r"[/\\\x00-\x1f\x7f]")
_MAX_LABEL_CHARS = 200


@dataclass(frozen=True, slots=True)
class RawFileEntry:
    """One raw file at a location: where it is, what it holds, what it belongs to.

    Attributes
    ----------
    path : str
        Relative to the location's root, ``/``-separated, normalised.
    size : int
        Bytes.
    sha256 : str
        64 lower-case hex digits.
    obs_unit : str
        The executed observation unit.
    instrument_module : str
        The instrument module that wrote it.
    """

    path: str
    size: int
    sha256: str
    obs_unit: str
    instrument_module: str


def check_label(name: str, value: str) -> str:
    """Return ``value`` stripped when it may be an obs unit or module name.

    Parameters
    ----------
    name : str
        The field, for the message (``obs_unit``).
    value : str
        The label as given.

    Raises
    ------
    ValueError
        Empty, too long, only dots, or holding a separator or a control character.
    """
    label = value.strip()
    if not label:
        raise ValueError(f"{name} is empty")
    if len(label) > _MAX_LABEL_CHARS:
        raise ValueError(f"{name} is longer than {_MAX_LABEL_CHARS} characters")
    if _UNSAFE_LABEL.search(label):
        raise ValueError(f"{name} {label!r} holds a path separator or a control character")
    if not label.strip("."):
        raise ValueError(f"{name} {label!r} is only dots")
    return label


def normal_sha256(text: str) -> str:
    """Return a sha256 as 64 lower-case hex digits (``sha256:`` prefix allowed).

    Raises
    ------
    ValueError
        Not 64 hex digits.
    """
    digest = text.strip().lower().removeprefix("sha256:").strip()
    if not _HEX64.fullmatch(digest):
        raise ValueError(f"sha256 {text.strip()!r} is not 64 hex digits")
    return digest
