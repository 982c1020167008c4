"""Files on local disk: where bytes land, and the only place that writes them.

Rules:
- Destinations are confined under their roots by :mod:`.confinement`, at the moment of
  each open, rename and delete: the part file is opened, renamed and deleted relative to
  a descriptor of its directory, walked to from the root without following a symlink.
- Bytes land in ``<final>.skyhaul.part`` beside the final name (``core.paths.part_name``,
  a name no destination may take). A part file is created only when its first byte is
  written (or when an empty file is promoted), with ``O_EXCL``: a request refused before
  any byte (404, 401, a redirect loop) leaves nothing behind, and nothing planted at the
  name is ever written through. A part file that is a symlink or has another hard link
  (``st_nlink > 1``) is refused.
- ``promote_all`` (through ``Promoter``) fsyncs each part, checks that the name still
  holds the very file that was written (same inode, one link), renames it atomically over
  the final name and fsyncs the directory. A file under its final name is complete and
  verified because nothing else ever writes a final name.
- Other whole files a run writes (a backfill day, a ledger export, a chart) go through
  ``atomic_file``: a temporary beside the final name, fsynced, renamed, directory
  fsynced; the final name holds the old file or the complete new one, never half.
- OS errors are mapped to ``DiskFullError`` and ``DiskError`` (``map_os_errors``).
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from skyhaul.adapters.confinement import (
    DestinationRoot,
    RealPaths,
    map_os_errors,
    open_directory,
)
from skyhaul.core.paths import part_name
from skyhaul.errors import DiskError, DiskFullError, PathEscapeError, SkyhaulError

__all__ = [
    "DestinationRoot",
    "PartFile",
    "Promoter",
    "RealPaths",
    "atomic_file",
    "map_os_errors",
    "promote_all",
    "sync_directory",
]

_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
_PART = os.O_RDWR | os.O_NOFOLLOW | _CLOEXEC


def _symlink_refused(path: Path) -> PathEscapeError:
    return PathEscapeError(f"{path} is a symlink; refusing to write through it")


class PartFile:
    """The part file a download writes into before it is promoted.

    Parameters
    ----------
    final : Path
        The final path (already confined by :class:`DestinationRoot`).
    root : DestinationRoot or None
        The root ``final`` lies under: every open, rename and delete walks down from it
        again. None trusts ``final``'s directory as it is.
    """

    def __init__(self, final: Path, root: DestinationRoot | None = None) -> None:
        self.final = final
        self.path = final.with_name(part_name(final.name))
        self._top = final.parent if root is None else root.root
        self._levels: tuple[str, ...] = () if root is None else root.levels(final.parent)
        self._fd = -1
        # Opened empty, not created yet: the first write creates it (see the rules).
        self._pending = False
        self._identity: tuple[int, int] | None = None
        self._creating = threading.Lock()

    @property
    def directory(self) -> tuple[Path, tuple[str, ...]]:
        """Where the part file lives: a trusted directory and the levels below it."""
        return self._top, self._levels

    @contextmanager
    def _directory(self, *, create: bool) -> Iterator[int]:
        fd = open_directory(self._top, self._levels, create=create)
        try:
            yield fd
        finally:
            os.close(fd)

    @property
    def is_open(self) -> bool:
        """True while the part file is open (or opened empty, to be created)."""
        return self._fd >= 0 or self._pending

    def existing_size(self) -> int:
        """Return the size of a part file left by an earlier attempt (0 if none).

        A part file that is not a plain file with one link counts as none: it is
        refused when opened.
        """
        try:
            with map_os_errors(self.path), self._directory(create=False) as directory:
                found = os.stat(self.path.name, dir_fd=directory, follow_symlinks=False)
        except (FileNotFoundError, DiskError):
            return 0
        return found.st_size if _plain(found) else 0

    def open(self, *, truncate: bool) -> None:
        """Open for reading and writing; ``truncate`` starts it empty (created at the
        first write), else the bytes already there are kept (it is created if missing).

        Raises
        ------
        PathEscapeError
            The part file is a symlink or a hard link, or its directory left the root.
        """
        self.close()  # a reopen (starting again from byte 0) must not leak the old one
        name = self.path.name
        with map_os_errors(self.path), self._directory(create=True) as directory:
            try:
                found: os.stat_result | None = os.stat(
                    name, dir_fd=directory, follow_symlinks=False
                )
            except FileNotFoundError:
                found = None
            if found is not None:
                self._refuse_unless_plain(found)
            if truncate:
                if found is not None:
                    os.unlink(name, dir_fd=directory)
                self._pending = True
                return
            try:
                fd = os.open(name, _PART | os.O_CREAT, 0o644, dir_fd=directory)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _symlink_refused(self.path) from None
                raise
            self._adopt(fd)

    def _refuse_unless_plain(self, found: os.stat_result) -> None:
        if stat.S_ISLNK(found.st_mode):
            raise _symlink_refused(self.path)
        if not stat.S_ISREG(found.st_mode):
            raise PathEscapeError(f"{self.path} is not a regular file; refusing to write it")
        if found.st_nlink > 1:
            raise PathEscapeError(
                f"{self.path} is a hard link ({found.st_nlink} links); refusing to write through it"
            )

    def _adopt(self, fd: int) -> None:
        """Keep ``fd`` as the part file, once it proves a plain file of one link."""
        try:
            found = os.fstat(fd)
            self._refuse_unless_plain(found)
        except BaseException:
            os.close(fd)
            raise
        self._identity = (found.st_dev, found.st_ino)
        self._fd = fd

    def _writable(self) -> int:
        """The descriptor to write to, creating the part file at the first write."""
        fd = self._fd
        if fd >= 0 or not self._pending:
            return fd  # -1 when closed: the write fails as on any closed file
        with self._creating:  # ranges may arrive at once from several writer threads
            if self._pending:
                with self._directory(create=True) as directory:
                    try:
                        created = os.open(
                            self.path.name, _PART | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=directory
                        )
                    except FileExistsError:
                        raise PathEscapeError(
                            f"{self.path} appeared before skyhaul created it; refusing to "
                            "write through it"
                        ) from None
                self._adopt(created)
                self._pending = False
        return self._fd

    def write_at(self, offset: int, data: bytes | memoryview) -> None:
        """Write all of ``data`` at ``offset``."""
        view = memoryview(data)
        with map_os_errors(self.path):
            fd = self._writable()
            while view:
                written = os.pwrite(fd, view, offset)
                view = view[written:]
                offset += written

    def write_many_at(self, offset: int, buffers: Sequence[bytes]) -> None:
        """Write ``buffers`` back to back from ``offset`` in as few system calls as possible."""
        views = [memoryview(b) for b in buffers if b]
        with map_os_errors(self.path):
            fd = self._writable()
            while views:
                written = os.pwritev(fd, views, offset)
                offset += written
                while views and written >= len(views[0]):
                    written -= len(views[0])
                    views.pop(0)
                if views and written:
                    views[0] = views[0][written:]

    def read_at(self, offset: int, size: int) -> bytes:
        """Read up to ``size`` bytes at ``offset``."""
        if self._pending:
            return b""
        with map_os_errors(self.path):
            return os.pread(self._fd, size, offset)

    def truncate(self, size: int) -> None:
        """Set the part file's length (0 to start again)."""
        with map_os_errors(self.path):
            os.ftruncate(self._writable(), size)

    def size(self) -> int:
        """Current length of the open part file."""
        if self._pending:
            return 0
        with map_os_errors(self.path):
            return os.fstat(self._fd).st_size

    def sync(self) -> None:
        """Flush written bytes to stable storage."""
        if self._pending:
            return
        with map_os_errors(self.path):
            os.fsync(self._fd)

    def close(self) -> None:
        """Close the file descriptor (idempotent); a part file never written stays unmade."""
        self._pending = False
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def rename_in(self, directory: int) -> None:
        """fsync, close and rename over the final name inside ``directory`` (the part
        file's own, just walked to); the directory is not synced.

        Raises
        ------
        PathEscapeError
            The name no longer holds the file written (replaced, or linked elsewhere).
        """
        self._writable()  # an empty file is created now
        if self._fd >= 0:
            os.fsync(self._fd)
        identity = self._identity
        self.close()
        found = os.stat(self.path.name, dir_fd=directory, follow_symlinks=False)
        if (found.st_dev, found.st_ino) != identity or not _plain(found):
            raise PathEscapeError(
                f"{self.path} is no longer the file skyhaul wrote; refusing to promote it"
            )
        os.rename(self.path.name, self.final.name, src_dir_fd=directory, dst_dir_fd=directory)

    def discard(self) -> None:
        """Close and delete the part file (after an integrity failure, or abandoned)."""
        self.close()
        with (
            map_os_errors(self.path),
            suppress(FileNotFoundError),
            self._directory(create=False) as directory,
        ):
            os.unlink(self.path.name, dir_fd=directory)


def _plain(found: os.stat_result) -> bool:
    return stat.S_ISREG(found.st_mode) and found.st_nlink == 1


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

    Each directory is walked to from its root once for the batch (see the rules), and
    every rename in it is made relative to that descriptor. Returns one entry per part:
    None when it is durable under its final name, else the error (a failed directory
    fsync fails every file renamed into that directory).
    """
    errors: list[SkyhaulError | None] = [None] * len(parts)
    by_directory: dict[tuple[Path, tuple[str, ...]], list[int]] = {}
    for index, part in enumerate(parts):
        by_directory.setdefault(part.directory, []).append(index)
    for (top, levels), indices in by_directory.items():
        where = top.joinpath(*levels)
        try:
            with map_os_errors(where):
                directory = open_directory(top, levels, create=False)
        except (DiskError, DiskFullError, PathEscapeError) as exc:
            for index in indices:
                parts[index].close()
                errors[index] = exc
            continue
        try:
            for index in indices:
                try:
                    with map_os_errors(parts[index].final):
                        parts[index].rename_in(directory)
                except (DiskError, DiskFullError, PathEscapeError) as exc:
                    errors[index] = exc
            try:
                with map_os_errors(where):
                    os.fsync(directory)
            except (DiskError, DiskFullError) as exc:
                for index in indices:
                    errors[index] = errors[index] or exc
        finally:
            os.close(directory)
    return errors
