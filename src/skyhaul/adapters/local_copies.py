"""Copies on local disk: reading one back, and making a new one from a verified one.

Rules:
- A stored copy is read without following a symlink: its directory is walked to from its
  root as every write does (``confinement.open_directory``), and the file opened with
  ``O_NOFOLLOW``. What is not a plain file there is no copy (``Found(None)``).
- Bytes are read in blocks of ``HASH_BLOCK``: memory stays bounded whatever the size;
  ``stop`` is asked between blocks, so a cancelled check ends within one block.
- A new copy is written into a part file beside its final name, as a download is, and
  hashed while copying. It is promoted only by ``PendingCopy.promote``, after the caller
  judged what was read: a final name never holds bytes nobody verified.
- Errors are skyhaul's: ``DiskError``/``DiskFullError`` (see ``map_os_errors``),
  ``PathEscapeError`` for a destination refused, ``InterruptedRun`` when stopped.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from skyhaul.adapters.confinement import DestinationRoot, open_directory
from skyhaul.adapters.storage import PartFile, promote_all
from skyhaul.core.copies import CopyTask, Found, StoredCopy
from skyhaul.errors import DiskError, InterruptedRun, PathEscapeError

__all__ = ["HASH_BLOCK", "LocalCopies", "LocalPendingCopy"]

T = TypeVar("T")

#: Bytes read (and hashed, and written) at a time.
HASH_BLOCK = 1 << 20

# O_NONBLOCK: a FIFO planted where a copy should be must not hang the open.
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_NONE = Found(None)
#: What opening a stored copy may meet when there is no plain file where it should be.
_ABSENT = (errno.ENOENT, errno.ELOOP, errno.ENOTDIR)


def _read_error(stored: StoredCopy, exc: OSError) -> DiskError:
    where = Path(stored.dest_root, stored.path)
    return DiskError(f"cannot read {where}: {exc.strerror or exc}")


def _never() -> bool:
    return False


class LocalPendingCopy:
    """A copy written and hashed into its part file, waiting for the caller's verdict."""

    def __init__(self, found: Found, part: PartFile | None) -> None:
        self.found = found
        self._part = part

    def promote(self) -> None:
        """Rename it over its final name, durably."""
        assert self._part is not None, "nothing was read: nothing to promote"
        [error] = promote_all([self._part])
        if error is not None:
            raise error

    def discard(self) -> None:
        """Delete the part file."""
        if self._part is not None:
            self._part.discard()


class LocalCopies:
    """Stored copies under any number of local roots (each root resolved once)."""

    def __init__(self) -> None:
        self._roots: dict[tuple[str, bool], DestinationRoot] = {}

    def _root(self, path: str, *, create: bool) -> DestinationRoot:
        root = self._roots.get((path, create))
        if root is None:
            root = self._roots[(path, create)] = DestinationRoot(path, create=create)
        return root

    def measure(
        self, stored: StoredCopy, *, thorough: bool, stop: Callable[[], bool] = _never
    ) -> Found:
        """Return what is on disk where ``stored`` should be: its size (a ``stat``), and
        with ``thorough`` the sha256 of its bytes."""
        if not thorough:
            found = self._stat(stored)
            return _NONE if found is None else Found(found.st_size)
        fd = self._open(stored)
        if fd is None:
            return _NONE
        try:
            return _read_all(fd, stored, stop, lambda offset, block: None)
        finally:
            os.close(fd)

    def start_copy(self, task: CopyTask, *, stop: Callable[[], bool] = _never) -> LocalPendingCopy:
        """Copy the file's own copy into a part file at the task's destination, hashing
        what is read; nothing is written when there is nothing to read."""
        fd = self._open(task.source)
        if fd is None:
            return LocalPendingCopy(_NONE, None)
        try:
            target = self._root(task.dest_root, create=True)
            part = PartFile(target.final_path(task.path), target)
            part.open(truncate=True)
            try:
                found = _read_all(fd, task.source, stop, part.write_at)
                part.sync()
            except BaseException:
                part.discard()
                raise
        finally:
            os.close(fd)
        return LocalPendingCopy(found, part)

    def _directory(self, stored: StoredCopy) -> tuple[int, str] | None:
        """Open a stored copy's directory (walked to from its root, following no
        symlink); return its descriptor (the caller closes it) and the copy's name, or
        None when the directory is not there."""
        try:
            root = self._root(stored.dest_root, create=False)
            located = root.locate(stored.path)
            if located is None:
                return None
            levels = located.parent.relative_to(root.root).parts
            return open_directory(root.root, levels, create=False), located.name
        except PathEscapeError:
            return None  # no longer under its root: not where it should be
        except OSError as exc:
            if exc.errno in _ABSENT:
                return None
            raise _read_error(stored, exc) from exc

    def _stat(self, stored: StoredCopy) -> os.stat_result | None:
        """``lstat`` a stored copy; None unless it is a plain file."""
        found = self._at(stored, lambda d, name: os.stat(name, dir_fd=d, follow_symlinks=False))
        return found if found is not None and stat.S_ISREG(found.st_mode) else None

    def _open(self, stored: StoredCopy) -> int | None:
        """Open a stored copy for reading, following no symlink; None unless it is a
        plain file."""
        fd = self._at(stored, lambda d, name: os.open(name, _READ, dir_fd=d))
        if fd is None or stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
        os.close(fd)
        return None

    def _at(self, stored: StoredCopy, act: Callable[[int, str], T]) -> T | None:
        """Run ``act`` on the directory descriptor and name of a stored copy; None when
        nothing is there."""
        at = self._directory(stored)
        if at is None:
            return None
        directory, name = at
        try:
            return act(directory, name)
        except OSError as exc:
            if exc.errno in _ABSENT:
                return None
            raise _read_error(stored, exc) from exc
        finally:
            os.close(directory)


def _read_all(
    fd: int,
    stored: StoredCopy,
    stop: Callable[[], bool],
    sink: Callable[[int, bytes], None],
) -> Found:
    """Read ``fd`` to its end in blocks, hashing each and handing it to ``sink``."""
    digest = hashlib.sha256()
    offset = 0
    while True:
        if stop():
            raise InterruptedRun("stopped")
        try:
            block = os.read(fd, HASH_BLOCK)
        except OSError as exc:
            raise _read_error(stored, exc) from exc
        if not block:
            return Found(offset, digest.hexdigest())
        digest.update(block)
        sink(offset, block)
        offset += len(block)
