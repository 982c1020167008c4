"""Local part files as the sinks of a run (see :mod:`skyhaul.ports.sink`).

Rules:
- Each destination is confined under its root (``DestinationRoot``) before its part file
  is named, and again at each open, rename and delete of it (``PartFile``).
- ``commit`` promotes through one ``Promoter`` per run: part files finishing together
  share one worker-thread call and one directory fsync.
"""

from __future__ import annotations

from pathlib import Path

from skyhaul.adapters.storage import DestinationRoot, PartFile, Promoter
from skyhaul.core.model import FileRecord

__all__ = ["LocalSink", "LocalSinks"]


class LocalSink(PartFile):
    """A part file that commits through its run's promoter."""

    def __init__(self, final: Path, promoter: Promoter, root: DestinationRoot) -> None:
        super().__init__(final, root)
        self._promoter = promoter

    async def commit(self) -> None:
        """fsync, rename over the final name and fsync the directory (batched)."""
        await self._promoter.promote(self)


class LocalSinks:
    """The part files of a run's files, under their destination roots."""

    def __init__(self) -> None:
        self._roots: dict[str, DestinationRoot] = {}
        self._promoter = Promoter()

    def for_file(self, record: FileRecord) -> LocalSink:
        """Return the part file of ``record`` (its path checked against its root)."""
        root = self._roots.get(record.dest_root)
        if root is None:
            root = self._roots[record.dest_root] = DestinationRoot(record.dest_root)
        return LocalSink(root.final_path(record.path), self._promoter, root)
