"""Where a destination may be: under its root, at every step.

Rules:
- Paths from manifests, listings and servers are checked by
  ``core.paths.safe_relative_path``; names only a part file may have are refused
  (``core.paths.reserved_component``); each directory on the way is created one level at
  a time, refusing any symlink that leads outside the root (``DestinationRoot``).
- That check is made once per run and directory, but it is not what keeps writes inside:
  every open, rename and delete walks down from the root again, one level at a time with
  ``O_NOFOLLOW`` (``open_directory``), and acts relative to the directory's descriptor.
  A directory swapped for a symlink after the check is refused then.
- Two destinations are one file when their real paths are equal (``RealPaths``): the
  root resolved, the relative path normalised, the existing directories on the way
  resolved. Registration keeps real paths unique.
- OS errors are mapped here: a full disk (ENOSPC, EDQUOT) is ``DiskFullError`` (the run
  stops), any other write error is ``DiskError`` (the attempt fails).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from skyhaul.core.paths import reserved_component, reserved_refusal, safe_relative_path
from skyhaul.errors import DiskError, DiskFullError, PathEscapeError

__all__ = ["DestinationRoot", "RealPaths", "map_os_errors", "open_directory"]

_FULL = (errno.ENOSPC, errno.EDQUOT)
_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC


@contextmanager
def map_os_errors(where: Path | str, verb: str = "write") -> Iterator[None]:
    """Translate OSError raised inside the block to skyhaul disk errors.

    ``verb`` says what failed in the message (``cannot read ...``).
    """
    try:
        yield
    except OSError as exc:
        raise _mapped(exc, where, verb) from exc


def _mapped(exc: OSError, where: Path | str, verb: str = "write") -> DiskError | DiskFullError:
    if exc.errno in _FULL:
        return DiskFullError(f"no space left on device writing {where}")
    return DiskError(f"cannot {verb} {where}: {exc.strerror or exc}")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def open_directory(top: Path, names: Sequence[str], *, create: bool) -> int:
    """Open ``top/names...`` one level at a time, following no symlink below ``top``.

    Parameters
    ----------
    top : Path
        A directory trusted as it is (a destination root, already resolved).
    names : sequence of str
        The directories under it, outermost first.
    create : bool
        Create a missing level (relative to its parent's descriptor); else a missing
        level raises ``FileNotFoundError``.

    Returns
    -------
    int
        A descriptor of the innermost directory; the caller closes it.

    Raises
    ------
    PathEscapeError
        A level is a symlink, or not a directory.
    """
    fd = os.open(top, _DIRECTORY)
    try:
        for name in names:
            try:
                step = os.open(name, _DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with suppress(FileExistsError):  # made meanwhile: opened below all the same
                    os.mkdir(name, dir_fd=fd)
                step = os.open(name, _DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                where = top.joinpath(*names)
                if stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise PathEscapeError(
                        f"{where}: directory {name!r} became a symlink; refusing to follow it"
                    ) from None
                raise PathEscapeError(f"{where}: {name!r} is not a directory") from None
            os.close(fd)
            fd = step
    except BaseException:
        os.close(fd)
        raise
    return fd


class RealPaths:
    """The real paths of destinations under one root: what makes two destinations one file.

    The root is resolved (symlinks and all), the relative path normalised, and the
    directories on the way that exist are resolved too (a symlink inside the root names
    the same files as its target). Each directory is resolved once per instance.

    Parameters
    ----------
    root : str
        The destination root.
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        # Directory part of a relative path as given -> its real path (None: refused).
        self._directories: dict[str, str | None] = {}

    def of(self, relative: str) -> str:
        """Return the real path of ``relative`` under the root.

        A path that ``safe_relative_path`` refuses is joined as it is (its download is
        refused anyway; it still names one place).
        """
        # Registration asks this of every new file: a clean name in a directory seen
        # before costs a split and a lookup, not a parse.
        head, _, name = relative.rpartition("/")
        directory = self._directories.get(head, "")
        if directory is None or not _plain_name(name):
            return self._slow(relative)
        if directory == "":
            directory = self._directories[head] = self._directory(head)
            if directory is None:
                return self._slow(relative)
        return f"{directory}{os.sep}{name}"

    def _directory(self, head: str) -> str | None:
        if not head:
            return self.root
        try:
            parts = safe_relative_path(head).parts
        except PathEscapeError:
            return None
        return os.path.realpath(Path(self.root, *parts))

    def _slow(self, relative: str) -> str:
        try:
            parts = safe_relative_path(relative).parts
        except PathEscapeError:
            return os.path.normpath(Path(self.root, relative))
        return str(Path(os.path.realpath(Path(self.root, *parts[:-1])), parts[-1]))


def _plain_name(name: str) -> bool:
    """A last component ``safe_relative_path`` keeps as it is (the common case)."""
    return (
        bool(name.rstrip(" ."))
        and "\\" not in name
        and "\x00" not in name
        and (len(name) < 2 or name[1] != ":")
    )


class DestinationRoot:
    """A directory that every destination path must stay under.

    Parameters
    ----------
    root : str or Path
        The destination root; created if missing, unless ``create`` is False (to read).
    """

    def __init__(self, root: str | Path, *, create: bool = True) -> None:
        if create:
            with map_os_errors(root):
                Path(root).mkdir(parents=True, exist_ok=True)
        self.root = Path(os.path.realpath(root))
        # Directories already walked and checked (thousands of files share a few). Each
        # open walks again without following symlinks (``open_directory``), so a
        # directory swapped after this check is refused then.
        self._checked: dict[tuple[str, ...], Path] = {}
        # The same, by the directory part of a relative path as given ("raw/eui/"): a
        # plain name below a directory already checked costs a split and a lookup.
        self._heads: dict[str, Path] = {}
        self._levels: dict[Path, tuple[str, ...]] = {}

    def final_path(self, relative: str) -> Path:
        """Return the absolute final path for ``relative``, creating its directories.

        Raises
        ------
        PathEscapeError
            When the path, or a symlink on its way, leads outside the root, or a name
            on it is one only a part file may have.
        """
        final = self._resolve(relative, create=True)
        assert final is not None
        return final

    def levels(self, directory: Path) -> tuple[str, ...]:
        """The names of ``directory`` (under the root) below the root, outermost first."""
        levels = self._levels.get(directory)
        if levels is None:
            levels = self._levels[directory] = directory.relative_to(self.root).parts
        return levels

    def locate(self, relative: str) -> Path | None:
        """Return where ``relative`` is, as :meth:`final_path` does, creating nothing;
        None when a directory on its way is missing.

        Raises
        ------
        PathEscapeError
            As :meth:`final_path`.
        """
        return self._resolve(relative, create=False)

    def _resolve(self, relative: str, *, create: bool) -> Path | None:
        # A plain last name below the directory part of a path that passed all of this
        # before: ``safe_relative_path`` would pass it again (its checks of the start of
        # the path saw this same start) and keep the name as it is.
        head, slash, name = relative.rpartition("/")
        head += slash  # "/x" is no "x": the key keeps the separator
        plain = _plain_name(name)
        directory = self._heads.get(head) if plain else None
        if directory is None:
            parts = safe_relative_path(relative).parts
            name = parts[-1]
        reserved = reserved_component(relative)
        if reserved is not None:
            raise PathEscapeError(reserved_refusal(relative, reserved))
        # Every step touches the file system, the final name's lstat too (a name too
        # long, a directory that may not be searched): all inside the mapping.
        try:
            if directory is None:
                directory = self._checked.get(parts[:-1])
                if directory is None:
                    directory = self._walk(relative, parts[:-1], create=create)
                    if directory is None:
                        return None
                    self._checked[parts[:-1]] = directory
                if plain:
                    self._heads[head] = directory
            final = directory / name
            if final.is_symlink():
                raise PathEscapeError(f"destination {final} is a symlink; refusing it")
        except OSError as exc:  # as map_os_errors, without its cost on every file
            raise _mapped(exc, self.root / relative) from exc
        return final

    def _walk(self, relative: str, names: Sequence[str], *, create: bool) -> Path | None:
        """Check (and create) the directories ``names`` of ``relative``; None if missing."""
        current = self.root
        for name in names:
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
                if not create:
                    return None
                step.mkdir(exist_ok=True)
            if not step.is_dir():
                raise PathEscapeError(f"{relative}: {step} exists and is not a directory")
            current = step
        return current
