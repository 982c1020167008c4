"""When a file being written has settled: unchanged for a settle time (``send --watch``).

Rules:
- A file is due once ``settle`` seconds have passed since the last change seen of it
  (OpenMSIStream waits 3 s); every change starts its wait again.
- A file is handed out once per settling (``due`` forgets it); a change after that
  starts a new wait, and the caller decides whether its content is new.
- Time is a parameter: the caller passes ``now`` from its own monotonic clock.
"""

from __future__ import annotations

#: OpenMSIStream's settle time: a file unchanged for 3 s is complete.
DEFAULT_SETTLE = 3.0


class Settling:
    """The files that changed and are not due yet, each with its last change.

    Parameters
    ----------
    settle : float
        Seconds a file must stay unchanged to be due.
    """

    def __init__(self, settle: float = DEFAULT_SETTLE) -> None:
        self.settle = settle
        self._changed: dict[str, float] = {}

    def changed(self, path: str, at: float) -> None:
        """Record that ``path`` changed at ``at`` (its wait starts again)."""
        self._changed[path] = at

    def due(self, now: float) -> list[str]:
        """Return (and forget) the paths unchanged for ``settle`` seconds at ``now``, in
        the order they settled."""
        ready = sorted((at, path) for path, at in self._changed.items() if now - at >= self.settle)
        for _, path in ready:
            del self._changed[path]
        return [path for _, path in ready]

    def next_due(self) -> float | None:
        """Return when the earliest waiting path becomes due, or None if none waits."""
        if not self._changed:
            return None
        return min(self._changed.values()) + self.settle

    def __len__(self) -> int:
        return len(self._changed)
