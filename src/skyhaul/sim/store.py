"""The running simulator's files: which generation of each is current, made on demand.

Rules:
- Every file starts at generation 0 (materialised before the server starts).
- :meth:`FileStore.advance` gives a file its next generation: the new bytes are written
  off the event loop, under a per-file lock, and become current only once on disk, so a
  request never sees a half-made version. Older versions stay on disk, so responses
  already streaming them finish undisturbed.
"""

from __future__ import annotations

import asyncio

from skyhaul.sim.archive import Archive
from skyhaul.sim.cache import ArchiveCache, FileVersion


class FileStore:
    """Current versions of the archive's files.

    Parameters
    ----------
    cache : ArchiveCache
        Where versions are written.
    initial : dict of str to FileVersion
        Generation 0 of every file, by archive path.
    """

    def __init__(self, cache: ArchiveCache, initial: dict[str, FileVersion]) -> None:
        self._cache = cache
        self._current = dict(initial)
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def archive(self) -> Archive:
        """The archive being served."""
        return self._cache.archive

    def current(self, path: str) -> FileVersion | None:
        """The current version of the file at ``path``, or None if there is no such file."""
        return self._current.get(path)

    def versions(self) -> list[FileVersion]:
        """Current versions of all files, in archive order."""
        return [self._current[f.path] for f in self.archive.files]

    async def advance(self, path: str) -> FileVersion:
        """Give the file at ``path`` new content (its next generation) and return it.

        Parameters
        ----------
        path : str
            Archive path of an existing file.

        Returns
        -------
        FileVersion
            The new current version.
        """
        lock = self._locks.setdefault(path, asyncio.Lock())
        async with lock:
            old = self._current[path]
            new = await asyncio.to_thread(
                self._cache.materialise_version, old.file, old.generation + 1
            )
            self._current[path] = new
            return new
