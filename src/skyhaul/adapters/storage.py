"""Files on local disk: where bytes land, and the only place that writes them.

Rules:
- Every destination is confined under its root: the relative path is checked by
  ``core.paths.safe_relative_path`` and each directory on the way is created one level at
  a time, refusing any symlink that leads outside the root (checked before anything is
  created through it).
- Bytes land in ``<final>.part``; ``promote_all`` (through ``Promoter``) fsyncs each part,
  renames it atomically over the final name and fsyncs the directory. A file under its
  final name is complete and verified because nothing else ever writes a final name.
- Other whole files a run writes (a backfill day, a ledger export, a chart) go through
  ``atomic_file``: a temporary beside the final name, fsynced, renamed, directory
  fsynced; the final name holds the old file or the complete new one, never half.
- OS errors are mapped here: a full disk (ENOSPC, EDQUOT) is ``DiskFullError`` (the run
  stops), any other write error is ``DiskError`` (the attempt fails).
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from skyhaul.core.paths import safe_relative_path
from skyhaul.errors import DiskError, DiskFullError, PathEscapeError, SkyhaulError

PART_SUFFIX = ".part"
_FULL = (errno.ENOSPC, errno.EDQUOT)
_NO_FOLLOW: int = getattr(os, "O_NOFOLLOW", 0)


def _symlink_refused(path: Path) -> PathEscapeError:
    return PathEscapeError(f"{path} is a symlink; refusing to write through it")


@contextmanager
def map_os_errors(where: Path | str) -> Iterator[None]:
    """Translate OSError raised inside the block to skyhaul disk errors."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            raise DiskFullError(f"no space left on device writing {where}") from exc
        raise DiskError(f"cannot write {where}: {exc.strerror or exc}") from exc


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class DestinationRoot:
    """A directory that every destination path must stay under.

    Parameters
    ----------
    root : str or Path
        The destination root; created if missing.
    """

    def __init__(self, root: str | Path) -> None:
        with map_os_errors(root):
            Path(root).mkdir(parents=True, exist_ok=True)
        self.root = Path(os.path.realpath(root))
        # Directories already walked and checked (thousands of files share a few).
        self._checked: dict[tuple[str, ...], Path] = {}

    def final_path(self, relative: str) -> Path:
        """Return the absolute final path for ``relative``, creating its directories.

        Raises
        ------
        PathEscapeError
            When the path, or a symlink on its way, leads outside the root.
        """
        parts = safe_relative_path(relative).parts
        known = self._checked.get(parts[:-1])
        if known is not None:
            return self._final(known, parts[-1])
        current = self.root
        with map_os_errors(self.root / relative):
            for name in parts[:-1]:
                step = current / name
                if step.is_symlink():
                    real = os.path.realpath(step)
                    if not _inside(real, str(self.root)):
                        raise PathEscapeError(
                            f"{relative}: directory {name!r} is a symlink leading outside "
                            f"the destination root {self.root}"
                        )
                    step = Path(real)
                elif not step.exists():
                    step.mkdir(exist_ok=True)
                if not step.is_dir():
                    raise PathEscapeError(f"{relative}: {step} exists and is not a directory")
                current = step
        self._checked[parts[:-1]] = current
        return self._final(current, parts[-1])

    @staticmethod
    def _final(directory: Path, name: str) -> Path:
        final = directory / name
        if final.is_symlink():
            raise PathEscapeError(f"destination {final} is a symlink; refusing it")
        return final


class PartFile:
    """The ``.part`` file a download writes into before it is promoted.

    Parameters
    ----------
    final : Path
        The final path (already confined by :class:`DestinationRoot`).
    """

    def __init__(self, final: Path) -> None:
        self.final = final
        self.path = final.with_name(final.name + PART_SUFFIX)
        self._fd = -1

    @property
    def is_open(self) -> bool:
        """True while the part file is open."""
        return self._fd >= 0

    def existing_size(self) -> int:
        """Return the size of a part file left by an earlier attempt (0 if none)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def open(self, *, truncate: bool) -> None:
        """Open (creating it) for reading and writing; ``truncate`` empties it first."""
        # O_NOFOLLOW refuses a symlink in the same system call that opens the file:
        # no window between a check and the open, and one call less per file.
        if not _NO_FOLLOW and self.path.is_symlink():
            raise _symlink_refused(self.path)
        flags = os.O_RDWR | os.O_CREAT | (os.O_TRUNC if truncate else 0) | _NO_FOLLOW
        with map_os_errors(self.path):
            try:
                fd = os.open(self.path, flags | getattr(os, "O_CLOEXEC", 0), 0o644)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _symlink_refused(self.path) from None
                raise
        self.close()  # a reopen (starting again from byte 0) must not leak the old one
        self._fd = fd

    def write_at(self, offset: int, data: bytes | memoryview) -> None:
        """Write all of ``data`` at ``offset``."""
        view = memoryview(data)
        with map_os_errors(self.path):
            while view:
                written = os.pwrite(self._fd, view, offset)
                view = view[written:]
                offset += written

    def write_many_at(self, offset: int, buffers: Sequence[bytes]) -> None:
        """Write ``buffers`` back to back from ``offset`` in as few system calls as possible."""
        views = [memoryview(b) for b in buffers if b]
        with map_os_errors(self.path):
            while views:
                written = os.pwritev(self._fd, views, offset)
                offset += written
                while views and written >= len(views[0]):
                    written -= len(views[0])
                    views.pop(0)
                if views and written:
                    views[0] = views[0][written:]

    def read_at(self, offset: int, size: int) -> bytes:
        """Read up to ``size`` bytes at ``offset``."""
        with map_os_errors(self.path):
            return os.pread(self._fd, size, offset)

    def truncate(self, size: int) -> None:
        """Set the part file's length (0 to start again)."""
        with map_os_errors(self.path):
            os.ftruncate(self._fd, size)

    def size(self) -> int:
        """Current length of the open part file."""
        with map_os_errors(self.path):
            return os.fstat(self._fd).st_size

    def sync(self) -> None:
        """Flush written bytes to stable storage."""
        with map_os_errors(self.path):
            os.fsync(self._fd)

    def close(self) -> None:
        """Close the file descriptor (idempotent)."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def sync_and_rename(self) -> None:
        """fsync, close and rename over the final name (the directory is not synced)."""
        if self._fd >= 0:
            os.fsync(self._fd)
        self.close()
        self.path.replace(self.final)

    def discard(self) -> None:
        """Close and delete the part file (after an integrity failure)."""
        self.close()
        with map_os_errors(self.path):
            self.path.unlink(missing_ok=True)


def sync_directory(directory: Path) -> None:
    """fsync a directory so that a rename inside it is durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_file(dest: Path) -> Iterator[BinaryIO]:
    """Yield a new file that becomes ``dest`` only if the block ends without an error.

    The file is ``.<name>.tmp`` beside ``dest`` (one left by a killed run is removed
    first); on a clean exit it is flushed, fsynced and renamed over ``dest``, and the
    directory fsynced. On any error it is removed and ``dest`` is untouched. OS errors
    propagate unmapped: callers say what the file was for.
    """
    temp = dest.with_name(f".{dest.name}.tmp")
    temp.unlink(missing_ok=True)
    stream = temp.open("xb")  # exclusive: never write through a file or link already there
    try:
        with stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        temp.replace(dest)
        sync_directory(dest.parent)
    except BaseException:
        with suppress(OSError):  # the error that matters is the one raised
            temp.unlink(missing_ok=True)
        raise


class Promoter:
    """Promote verified part files in batches: one worker-thread call for all that wait.

    Thousands of small files each finishing on their own would cost a thread hop apiece;
    gathered, they also share one fsync per directory. ``promote`` returns only after the
    file's rename is durable, so the caller's DOWNLOADED transition still comes after it.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[PartFile, asyncio.Future[None]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def promote(self, part: PartFile) -> None:
        """Promote ``part`` (see :func:`promote_all`); raise its disk error, if any."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((part, done))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._drain())
        await done

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            errors = await asyncio.to_thread(promote_all, [part for part, _ in batch])
            for (_, done), error in zip(batch, errors, strict=True):
                if done.done():
                    continue  # its transfer was cancelled meanwhile
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)


def promote_all(parts: list[PartFile]) -> list[SkyhaulError | None]:
    """fsync and rename each part file, then fsync each directory once.

    Returns one entry per part: None when it is durable under its final name, else the
    error (a failed directory fsync fails every file renamed into that directory).
    """
    errors: list[SkyhaulError | None] = []
    for part in parts:
        try:
            with map_os_errors(part.final):
                part.sync_and_rename()
            errors.append(None)
        except (DiskError, DiskFullError) as exc:
            errors.append(exc)
    for directory in {part.final.parent for part in parts}:
        try:
            with map_os_errors(directory):
                sync_directory(directory)
        except (DiskError, DiskFullError) as exc:
            errors = [
                exc if error is None and part.final.parent == directory else error
                for part, error in zip(parts, errors, strict=True)
            ]
    return errors
