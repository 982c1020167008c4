"""Find the raw files in a local location's directory, hashing each as it is read once.

Rules:
- The walk follows a :class:`~skyhaul.core.scanpattern.ScanPattern`: directories no match
  can be under are not entered; a file's obs unit and module come from its path.
- Never registered: part and temporary files (``.part``, ``.partial``, ``.tmp`` at the
  end of the name), hidden names (``.x``: writers' temporary files, and directories such
  as ``.skyhaul``), symlinks and anything not a regular file. Part and hidden names are
  not even reported; the rest is, in ``skipped``.
- A file is read once, in one pass that hashes it. It is skipped this time (and found by
  the next scan) when it changes while being read: its size, modification time or inode
  differ between the stat before and the stats after the hash (on the open file and on
  its name), or the bytes read are not its size. With ``settle``, a file modified less
  than that many seconds ago is skipped too, for writers that pause mid-file.
- ``known(path, size)`` lets the caller skip hashing files it has registered already.
- The scan is blocking; ``scan_location`` runs it in a thread so an event loop keeps
  going. Names that are not UTF-8 cannot be stored and are skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from skyhaul.core.rawfiles import RawFileEntry, check_label
from skyhaul.core.scanpattern import ScanPattern

__all__ = ["TEMPORARY_SUFFIXES", "ScanReport", "ScanSkip", "scan_directory", "scan_location"]

#: Endings of names that writers use while a file is incomplete.
TEMPORARY_SUFFIXES = (".part", ".partial", ".tmp")

Known = Callable[[str, int], bool]
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True, slots=True)
class ScanSkip:
    """A file that was not registered this time, and why."""

    path: str
    reason: str


@dataclass(slots=True)
class ScanReport:
    """What one scan found.

    Attributes
    ----------
    files : list of RawFileEntry
        Matching files, hashed, in path order.
    known : int
        Matching files ``known`` said were registered already (not hashed).
    unmatched : int
        Regular files the pattern does not match.
    skipped : list of ScanSkip
        Files left for the next scan (changing, unreadable, symlinks, ...).
    """

    files: list[RawFileEntry] = field(default_factory=list)
    known: int = 0
    unmatched: int = 0
    skipped: list[ScanSkip] = field(default_factory=list)


class _Changed(Exception):
    """The file changed while it was being read."""


def scan_directory(
    root: Path,
    pattern: ScanPattern,
    *,
    known: Known | None = None,
    settle: float = 0.0,
    clock: Callable[[], float] = time.time,
) -> ScanReport:
    """Walk ``root`` and hash every file ``pattern`` matches (blocking).

    Parameters
    ----------
    root : Path
        The location's directory.
    pattern : ScanPattern
        Which files, and where their obs unit and module are in their paths.
    known : callable, optional
        ``known(path, size)`` is True for a file registered already: it is not hashed.
    settle : float
        Skip files modified less than this many seconds before ``clock()``.
    clock : callable
        Wall-clock seconds, comparable with file modification times.

    Returns
    -------
    ScanReport

    Raises
    ------
    OSError
        ``root`` is not a readable directory.
    """
    report = ScanReport()
    with os.scandir(root):  # fail on a missing root; the walk tolerates what vanishes below
        pass
    for relative, entry in _walk(root, "", pattern, report):
        labels = pattern.match(relative)
        if labels is None:
            report.unmatched += 1
            continue
        try:
            obs_unit = check_label("obs_unit", labels["obs_unit"])
            module = check_label("instrument_module", labels["instrument_module"])
        except ValueError as exc:
            report.skipped.append(ScanSkip(relative, str(exc)))
            continue
        try:
            before = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # gone between the listing and now: nothing to register
        except OSError as exc:
            report.skipped.append(ScanSkip(relative, f"cannot stat: {exc.strerror or exc}"))
            continue
        if known is not None and known(relative, before.st_size):
            report.known += 1
            continue
        if settle > 0 and clock() - before.st_mtime < settle:
            report.skipped.append(ScanSkip(relative, "modified moments ago: still settling"))
            continue
        try:
            digest = _hash_unchanged(Path(entry.path), before)
        except _Changed:
            report.skipped.append(ScanSkip(relative, "changed while being read"))
            continue
        except FileNotFoundError:
            continue
        except OSError as exc:
            report.skipped.append(ScanSkip(relative, f"cannot read: {exc.strerror or exc}"))
            continue
        report.files.append(RawFileEntry(relative, before.st_size, digest, obs_unit, module))
    return report


async def scan_location(
    root: Path,
    pattern: ScanPattern,
    *,
    known: Known | None = None,
    settle: float = 0.0,
    clock: Callable[[], float] = time.time,
) -> ScanReport:
    """:func:`scan_directory` in a worker thread (``known`` is called from that thread)."""
    return await asyncio.to_thread(
        scan_directory, root, pattern, known=known, settle=settle, clock=clock
    )


def _walk(
    root: Path, prefix: str, pattern: ScanPattern, report: ScanReport
) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Yield ``(relative path, entry)`` for each regular file, in path order."""
    try:
        with os.scandir(root / prefix if prefix else root) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return  # removed or replaced while the walk went on
    except OSError as exc:
        report.skipped.append(ScanSkip(prefix or ".", f"cannot list: {exc.strerror or exc}"))
        return
    for entry in entries:
        name = entry.name
        if name.startswith(".") or name.endswith(TEMPORARY_SUFFIXES):
            continue
        relative = f"{prefix}/{name}" if prefix else name
        if not _is_utf8(name):
            report.skipped.append(ScanSkip(relative, "name is not valid UTF-8"))
            continue
        try:
            if entry.is_symlink():
                report.skipped.append(ScanSkip(relative, "a symlink: not followed"))
            elif entry.is_dir(follow_symlinks=False):
                if pattern.may_contain(relative):
                    yield from _walk(root, relative, pattern, report)
            elif entry.is_file(follow_symlinks=False):
                yield relative, entry
            elif pattern.match(relative) is not None:
                report.skipped.append(ScanSkip(relative, "not a regular file"))
        except OSError as exc:
            report.skipped.append(ScanSkip(relative, f"cannot stat: {exc.strerror or exc}"))


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as lone surrogates
        return False
    return True


def _hash_unchanged(path: Path, before: os.stat_result) -> str:
    """Hash the file in one read; ``_Changed`` when it differs from ``before`` meanwhile."""
    fd = os.open(path, _OPEN_FLAGS)
    with os.fdopen(fd, "rb", buffering=0) as file:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or _identity(opened) != _identity(before):
            raise _Changed
        digest = hashlib.file_digest(file, "sha256")
        read = file.tell()
        after = os.fstat(fd)
    try:
        named = path.stat(follow_symlinks=False)
    except FileNotFoundError:
        raise _Changed from None  # renamed away or deleted: registered next time, if back
    if read != before.st_size or _identity(after) != _identity(before):
        raise _Changed
    if _identity(named) != _identity(before):
        raise _Changed
    return digest.hexdigest()


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
