"""A storage location on local disk (``file:///abs/path``; see :mod:`skyhaul.ports.locations`).

Rules:
- Every path is confined under the root by :mod:`skyhaul.adapters.confinement`: checked
  once (``DestinationRoot``), then each open, rename and delete walks down from the root
  again without following a symlink (``open_directory``).
- A writer is a ``PartFile`` of :mod:`skyhaul.adapters.storage` (``<name>.skyhaul.part``
  beside the final name), committed by ``promote_all``: fsync, rename, directory fsync.
  Opened with ``resume=True`` it keeps a part file a killed writer left, fsyncs it (so the
  bytes reported are durable) and appends after them; otherwise a leftover is dropped.
- Blocking calls run in worker threads; writes under ``_INLINE_WRITE`` bytes (tar headers)
  are made inline, where a thread hop would cost more than the write.
- The root is created by the first writer, not when the location is opened: a location
  that is only read never makes directories.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

from skyhaul.adapters.confinement import DestinationRoot, map_os_errors, open_directory
from skyhaul.adapters.locations.writer import WriterBase
from skyhaul.adapters.storage import PartFile, promote_all
from skyhaul.core.paths import reserved_component, safe_relative_path
from skyhaul.errors import ClientError, DiskError, PathEscapeError
from skyhaul.ports.locations import ObjectEntry, ObjectInfo

__all__ = ["CHUNK_SIZE", "LocalLocation", "LocalWriter"]

#: Bytes per read of ``open_read``.
CHUNK_SIZE = 1 << 20
_INLINE_WRITE = 64 << 10
_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
_READ = os.O_RDONLY | os.O_NOFOLLOW | _CLOEXEC


def _not_found(where: Path | str) -> ClientError:
    return ClientError(f"no such file: {where}", status=404)


class LocalLocation:
    """Files under a local directory.

    Parameters
    ----------
    root : str or Path
        The location's directory (absolute).
    chunk_size : int, optional
        Bytes per chunk that ``open_read`` yields.
    """

    def __init__(self, root: str | Path, *, chunk_size: int = CHUNK_SIZE) -> None:
        self._path = Path(root)
        self._root = DestinationRoot(root, create=False)
        self.chunk_size = chunk_size

    @property
    def url(self) -> str:
        """``file:///...`` of the root."""
        return self._path.as_uri()

    @property
    def root(self) -> Path:
        """The root directory, resolved."""
        return self._root.root

    async def stat(self, path: str) -> ObjectInfo | None:
        """Return size and mtime of the file at ``path``; None if no file is there."""
        return await asyncio.to_thread(self._stat, path)

    def _stat(self, path: str) -> ObjectInfo | None:
        final = self._root.locate(path)
        if final is None:
            return None
        try:
            with map_os_errors(final, "read"):
                found = os.lstat(final)
        except DiskError as exc:
            if isinstance(exc.__cause__, FileNotFoundError | NotADirectoryError):
                return None
            raise
        if not stat.S_ISREG(found.st_mode):
            return None
        return ObjectInfo(size=found.st_size, mtime=found.st_mtime)

    async def open_read(self, path: str, offset: int = 0) -> AsyncIterator[bytes]:
        """Yield the file's bytes from ``offset``, ``chunk_size`` at a time.

        Raises
        ------
        ClientError
            Status 404 if no file is there, 416 if ``offset`` is past its end.
        """
        fd = await asyncio.to_thread(self._open_fd, path, offset)
        try:
            position = offset
            while True:
                with map_os_errors(path, "read"):
                    chunk = await asyncio.to_thread(os.pread, fd, self.chunk_size, position)
                if not chunk:
                    return
                position += len(chunk)
                yield chunk
        finally:
            os.close(fd)

    def _open_fd(self, path: str, offset: int) -> int:
        final = self._root.locate(path)
        if final is None:
            raise _not_found(path)
        levels = self._root.levels(final.parent)
        with map_os_errors(final, "read"):
            try:
                directory = open_directory(self._root.root, levels, create=False)
            except FileNotFoundError:
                raise _not_found(path) from None
            try:
                fd = os.open(final.name, _READ, dir_fd=directory)
            except FileNotFoundError:
                raise _not_found(path) from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise PathEscapeError(f"{final} is a symlink; refusing it") from None
                raise
            finally:
                os.close(directory)
        try:
            found = os.fstat(fd)
            if not stat.S_ISREG(found.st_mode):
                raise _not_found(path)
            if offset > found.st_size:
                raise ClientError(
                    f"offset {offset} is past the end ({found.st_size}) of {path}", status=416
                )
        except BaseException:
            os.close(fd)
            raise
        return fd

    async def writer(self, path: str, *, resume: bool = False) -> LocalWriter:
        """Open a part file for ``path``; ``resume`` keeps (and fsyncs) one left behind.

        Raises
        ------
        PathEscapeError
            ``path`` or a symlink on its way leads outside the root.
        """
        return await asyncio.to_thread(self._writer, path, resume)

    def _writer(self, path: str, resume: bool) -> LocalWriter:
        with map_os_errors(self._path):
            self._path.mkdir(parents=True, exist_ok=True)
        relative = safe_relative_path(path).as_posix()
        part = PartFile(self._root.final_path(relative), self._root)
        part.open(truncate=not resume)
        offset = 0
        if resume:
            offset = part.size()
            part.sync()
        return LocalWriter(part, relative, offset)

    async def delete(self, path: str) -> None:
        """Delete the file at ``path`` (none there is no error)."""
        await asyncio.to_thread(self._delete, path)

    def _delete(self, path: str) -> None:
        final = self._root.locate(path)
        if final is None:
            return
        with map_os_errors(final):
            try:
                directory = open_directory(
                    self._root.root, self._root.levels(final.parent), create=False
                )
            except FileNotFoundError:
                return
            try:
                os.unlink(final.name, dir_fd=directory)
            except FileNotFoundError:
                pass
            finally:
                os.close(directory)

    async def walk(self, prefix: str = "") -> AsyncIterator[ObjectEntry]:
        """Yield every file under the directory ``prefix``, one directory per thread call.

        Part files and symlinks are left out; each file is yielded once, names sorted
        within each directory.
        """
        start = safe_relative_path(prefix).parts if prefix.strip("/") else ()
        pending: list[tuple[str, ...]] = [start]
        while pending:
            levels = pending.pop()
            files, directories = await asyncio.to_thread(self._list, levels)
            for entry in files:
                yield entry
            pending.extend(reversed(directories))

    def _list(self, levels: tuple[str, ...]) -> tuple[list[ObjectEntry], list[tuple[str, ...]]]:
        where = self._root.root.joinpath(*levels)
        files: list[ObjectEntry] = []
        directories: list[tuple[str, ...]] = []
        with map_os_errors(where, "read"):
            try:
                fd = open_directory(self._root.root, levels, create=False)
            except FileNotFoundError:
                return files, directories
            try:
                with os.scandir(fd) as entries:
                    found = sorted(entries, key=lambda e: e.name)
                for entry in found:
                    if entry.is_dir(follow_symlinks=False):
                        directories.append((*levels, entry.name))
                    elif entry.is_file(follow_symlinks=False):
                        relative = "/".join((*levels, entry.name))
                        if reserved_component(relative) is None:
                            size = entry.stat(follow_symlinks=False).st_size
                            files.append(ObjectEntry(relative, size))
            finally:
                os.close(fd)
        return files, directories

    async def aclose(self) -> None:
        """Nothing to release: descriptors live only as long as each call."""


class LocalWriter(WriterBase):
    """A part file being written in order (see :class:`skyhaul.ports.locations.LocationWriter`).

    Parameters
    ----------
    part : PartFile
        The open part file.
    path : str
        The final path, relative to the location.
    offset : int
        Bytes already in the part file (kept by a resume, and fsynced).
    """

    def __init__(self, part: PartFile, path: str, offset: int) -> None:
        super().__init__(path, offset)
        self._part = part

    async def _write(self, chunk: bytes) -> None:
        if len(chunk) < _INLINE_WRITE:
            self._part.write_at(self._size, chunk)
        else:
            await asyncio.to_thread(self._part.write_at, self._size, chunk)

    async def _sync(self) -> None:
        await asyncio.to_thread(self._part.sync)

    async def _commit(self) -> ObjectInfo:
        """fsync, rename over the final name, fsync the directory."""
        error = (await asyncio.to_thread(promote_all, [self._part]))[0]
        if error is not None:
            raise error
        found = self._part.final.lstat()
        return ObjectInfo(size=found.st_size, mtime=found.st_mtime)

    async def _abort(self) -> None:
        await asyncio.to_thread(self._part.discard)

    async def _suspend(self) -> None:
        """Sync and close the part file: ``writer(path, resume=True)`` goes on from it."""
        await asyncio.to_thread(self._sync_and_close)

    def _sync_and_close(self) -> None:
        try:
            self._part.sync()
        finally:
            self._part.close()
