"""Materialise the archive's files on disk once, so the server can ``sendfile`` them.

Rules:
- Layout: ``<root>/<kind>-<count>-seed<seed>-<key>/g<generation>/<archive path>``, where
  ``key`` hashes the spec and :data:`CONTENT_FORMAT`; different specs never share files.
- Every file is written to a unique temporary name in its directory and renamed into
  place, so a file under its final name is always complete, even with two simulators
  filling the same cache at once.
- Generation 0 is recorded in ``index.json`` (size and SHA-256 per path) written last and
  atomically; a later start reuses every file whose size matches the index and writes
  only what is missing. Later generations are made on demand and not indexed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from skyhaul.sim.archive import Archive, ArchiveFile
from skyhaul.sim.content import write_content

CONTENT_FORMAT = 1
"""Bump when :mod:`skyhaul.sim.content` changes its bytes, to invalidate old caches."""


@dataclass(frozen=True)
class FileVersion:
    """One generation of one file, on disk.

    Parameters
    ----------
    file : ArchiveFile
        The archive entry.
    generation : int
        Which version of the content.
    size : int
        Size in bytes.
    sha256 : str
        SHA-256 of the content, in hex.
    disk_path : Path
        Where the bytes are.
    """

    file: ArchiveFile
    generation: int
    size: int
    sha256: str
    disk_path: Path

    @property
    def etag(self) -> str:
        """Strong ETag, quoted: derived from the content, so it changes with it."""
        return f'"{self.sha256[:32]}"'

    @property
    def last_modified(self) -> datetime:
        """Publication time of this generation: one minute per generation after the first."""
        return self.file.last_modified + timedelta(minutes=self.generation)

    @property
    def repr_digest(self) -> str:
        """RFC 9530 ``Repr-Digest`` value: ``sha-256=:<base64>:``."""
        raw = bytes.fromhex(self.sha256)
        return f"sha-256=:{base64.b64encode(raw).decode('ascii')}:"


def default_root() -> Path:
    """Default cache root: ``skyhaul-sim-<user>`` in the system's temporary directory."""
    user = os.environ.get("USER") or str(os.getuid())
    return Path(tempfile.gettempdir()) / f"skyhaul-sim-{user}"


class ArchiveCache:
    """The on-disk copy of one archive.

    Parameters
    ----------
    root : Path
        Cache root; created if missing. Several archives can share one root.
    archive : Archive
        The archive to materialise.
    """

    def __init__(self, root: Path, archive: Archive) -> None:
        spec = archive.spec
        key = hashlib.sha256(f"{CONTENT_FORMAT}|{spec!r}".encode()).hexdigest()[:10]
        self.archive = archive
        self.directory = Path(root) / f"{spec.kind}-{spec.count}-seed{spec.seed}-{key}"

    def materialise(self, workers: int | None = None) -> dict[str, FileVersion]:
        """Make sure generation 0 of every file is on disk, writing what is missing.

        Parameters
        ----------
        workers : int, optional
            Threads writing files at once (default: up to 4, one per CPU).

        Returns
        -------
        dict of str to FileVersion
            Generation 0 of each file, by archive path.
        """
        index = self._read_index()
        versions: dict[str, FileVersion] = {}
        missing: list[ArchiveFile] = []
        for file in self.archive.files:
            disk_path = self._disk_path(file, 0)
            known = index.get(file.path)
            if known and known[0] == file.size and _size_on_disk(disk_path) == file.size:
                versions[file.path] = FileVersion(file, 0, file.size, known[1], disk_path)
            else:
                missing.append(file)
        if missing:
            threads = workers or min(4, os.cpu_count() or 1)
            with ThreadPoolExecutor(max_workers=threads) as pool:
                for version in pool.map(lambda f: self.materialise_version(f, 0), missing):
                    versions[version.file.path] = version
            self._write_index(versions)
        return versions

    def materialise_version(self, file: ArchiveFile, generation: int) -> FileVersion:
        """Write one generation of one file (atomically) and return it.

        Parameters
        ----------
        file : ArchiveFile
            Which file.
        generation : int
            Which version of its content.

        Returns
        -------
        FileVersion
            The version on disk.
        """
        disk_path = self._disk_path(file, generation)
        disk_path.parent.mkdir(parents=True, exist_ok=True)
        temp = disk_path.with_name(f".{disk_path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with temp.open("wb") as out:
                sha256 = write_content(out, file, generation, self.archive.spec.seed)
            temp.replace(disk_path)
        finally:
            temp.unlink(missing_ok=True)
        return FileVersion(file, generation, file.size_at(generation), sha256, disk_path)

    def _disk_path(self, file: ArchiveFile, generation: int) -> Path:
        return self.directory / f"g{generation}" / file.path

    def _read_index(self) -> dict[str, tuple[int, str]]:
        try:
            data = json.loads((self.directory / "index.json").read_text())
            return {path: (int(size), str(sha)) for path, (size, sha) in data["files"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def _write_index(self, versions: dict[str, FileVersion]) -> None:
        data = {
            "format": CONTENT_FORMAT,
            "files": {path: [v.size, v.sha256] for path, v in sorted(versions.items())},
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.directory / "index.json", json.dumps(data, indent=0))


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a unique temporary file beside ``path``, then rename it over ``path``.

    A reader of ``path`` sees the old content or the new, never half of it.
    """
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        temp.write_text(text)
        temp.replace(path)
    finally:
        temp.unlink(missing_ok=True)


def _size_on_disk(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
