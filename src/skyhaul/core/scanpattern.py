"""Where a raw file's obs unit and instrument module are read from its path.

Rules:
- A pattern is ``/``-separated segments matched against a file's path relative to its
  location, e.g. ``{obs_unit}/{instrument_module}/**``.
- ``{obs_unit}`` and ``{instrument_module}`` each appear exactly once; each captures
  one or more characters within one path component (``eou-{obs_unit}`` works too).
- ``*`` matches any characters within one component, ``?`` exactly one; everything
  else is literal.
- ``**`` alone as a segment matches whole components, gitignore-style: as the last
  segment one or more (``a/**`` is everything inside ``a``, not ``a`` itself), elsewhere
  zero or more.
- ``may_contain(directory)`` answers whether any file below a directory could match, so
  a scan skips whole trees; it never says no to a directory holding a match.
- A bad pattern raises ``ValueError`` with one line naming what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from skyhaul.core.rawfiles import LABEL_FIELDS

__all__ = ["ScanPattern"]

_ANY_DEPTH = "**"
_TOKEN = re.compile(r"\{([^{}]*)\}|\*|\?|[{}]|[^*?{}]+")


@dataclass(frozen=True, slots=True)
class ScanPattern:
    """A parsed pattern; build one with :meth:`parse`.

    Attributes
    ----------
    text : str
        The pattern as written.
    """

    text: str
    _whole: re.Pattern[str]
    _segments: tuple[re.Pattern[str] | None, ...]  # None: ``**``

    @classmethod
    def parse(cls, text: str) -> ScanPattern:
        """Parse a pattern such as ``{obs_unit}/{instrument_module}/**``.

        Raises
        ------
        ValueError
            Empty, absolute, ``.``/``..``/empty segments, ``**`` inside a segment, an
            unknown or repeated field, a field missing, two fields side by side, or an
            unbalanced brace.
        """
        if not text.strip():
            raise ValueError("scan pattern is empty")
        if text.startswith("/"):
            raise ValueError(f"scan pattern {text!r}: must be relative (no leading '/')")
        seen: set[str] = set()
        segments: list[re.Pattern[str] | None] = []
        pieces: list[str] = []
        parts = text.split("/")
        for index, segment in enumerate(parts):
            last = index == len(parts) - 1
            if segment == _ANY_DEPTH:
                segments.append(None)
                # Trailing: one or more components; elsewhere: zero or more, each with its '/'.
                pieces.append(r"[^/]+(?:/[^/]+)*" if last else r"(?:[^/]+/)*")
                continue
            piece = _segment_regex(text, segment, seen)
            segments.append(re.compile(piece))
            pieces.append(piece if last else piece + "/")
        missing = [name for name in LABEL_FIELDS if name not in seen]
        if missing:
            fields = " and ".join("{" + name + "}" for name in missing)
            raise ValueError(f"scan pattern {text!r}: must name {fields}")
        return cls(text, re.compile("".join(pieces)), tuple(segments))

    def match(self, path: str) -> dict[str, str] | None:
        """Return ``{"obs_unit": ..., "instrument_module": ...}`` for a matching path.

        Parameters
        ----------
        path : str
            A file's ``/``-separated path relative to its location.

        Returns
        -------
        dict or None
            The two labels, or None when the path does not match.
        """
        found = self._whole.fullmatch(path)
        if found is None:
            return None
        return {name: found.group(name) for name in LABEL_FIELDS}

    def may_contain(self, directory: str) -> bool:
        """Tell whether a file below ``directory`` (relative, ``""`` for the root) could match.

        Field captures are not compared across components (each field appears once), so
        this is exact about structure and never wrongly says no.
        """
        states = self._advance({0})
        for component in directory.split("/") if directory else ():
            moved: set[int] = set()
            for state in states:
                if state == len(self._segments):
                    continue
                segment = self._segments[state]
                if segment is None:
                    moved.add(state)  # ``**`` takes this component and may take more
                elif segment.fullmatch(component):
                    moved.add(state + 1)
            states = self._advance(moved)
            if not states:
                return False
        # A file still needs one more component: some state must accept one.
        return any(state < len(self._segments) for state in states)

    def _advance(self, states: set[int]) -> set[int]:
        """Add the states reachable by letting non-trailing ``**`` match nothing."""
        closed = set(states)
        stack = list(states)
        last = len(self._segments) - 1
        while stack:
            state = stack.pop()
            if state < last and self._segments[state] is None and state + 1 not in closed:
                closed.add(state + 1)
                stack.append(state + 1)
        return closed


def _segment_regex(text: str, segment: str, seen: set[str]) -> str:
    """The regex of one segment; ``seen`` collects the fields named so far."""
    if segment in ("", ".", ".."):
        what = "an empty segment" if not segment else f"a {segment!r} segment"
        raise ValueError(f"scan pattern {text!r}: has {what}")
    if _ANY_DEPTH in segment:
        raise ValueError(f"scan pattern {text!r}: '**' must be a whole segment, not {segment!r}")
    out: list[str] = []
    previous_field = False
    for token in _TOKEN.finditer(segment):
        value = token.group(0)
        name = token.group(1)
        if name is not None:
            if name not in LABEL_FIELDS:
                known = ", ".join("{" + n + "}" for n in LABEL_FIELDS)
                raise ValueError(f"scan pattern {text!r}: unknown field {value} (known: {known})")
            if name in seen:
                raise ValueError(f"scan pattern {text!r}: field {value} appears twice")
            if previous_field:
                raise ValueError(
                    f"scan pattern {text!r}: two fields side by side in {segment!r} cannot be"
                    " told apart"
                )
            seen.add(name)
            out.append(f"(?P<{name}>[^/]+)")
            previous_field = True
            continue
        previous_field = False
        if value in ("{", "}"):
            raise ValueError(f"scan pattern {text!r}: unbalanced brace in {segment!r}")
        out.append("[^/]*" if value == "*" else "[^/]" if value == "?" else re.escape(value))
    return "".join(out)
