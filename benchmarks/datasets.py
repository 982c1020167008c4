"""The files the server offers, the lists each client reads, and the check of what arrived.

Rules:
- A dataset is ``count`` files of ``size`` random bytes under the server root, generated
  once and described by an index (name, size, sha256) written last: a dataset whose index
  exists and matches is reused, anything else is regenerated.
- Each client gets the same files in the same order: a plain URL list for the peers and a
  CSV manifest (url, path, size, checksum) for skyhaul.
- Files another server generates (the archive simulator) are offered from its listing
  (``offer_listing``): each is saved under the basename of its URL, like any other.
- A file "is ok" when it exists under the output directory with the right size and, when
  checked, the right sha256. Checking happens after the timed run.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["Dataset", "FileEntry", "Offered", "count_ok", "offer", "offer_listing"]

_CHUNK = 1 << 20
_INDEX = "index.json"


@dataclass(frozen=True, slots=True)
class Dataset:
    """A set of equally sized random files.

    Parameters
    ----------
    stem : str
        Name prefix of the files (``large-0003.bin``).
    count : int
        Number of files.
    size : int
        Bytes per file.
    location : str
        URL path prefix under which the server offers it (``files`` or ``limited``).
    """

    stem: str
    count: int
    size: int
    location: str = "files"

    @property
    def relative_dir(self) -> str:
        """Directory under the server root (and URL path) holding the files."""
        return f"{self.location}/{self.stem}-{self.count}x{self.size}"

    def names(self) -> list[str]:
        """File names, in list order."""
        width = len(str(self.count - 1))
        return [f"{self.stem}-{i:0{width}d}.bin" for i in range(self.count)]


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One offered file: its name, size and sha256 (hex)."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Offered:
    """A dataset present under the server root, with the lists the clients read.

    Parameters
    ----------
    dataset : Dataset
        What was generated.
    entries : tuple of FileEntry
        Every file, in list order.
    url_list : Path
        One URL per line (wget, aria2c, parfive, the aiohttp loop).
    manifest : Path
        CSV with url, path, size, checksum (skyhaul).
    urls : tuple of str
        The URLs, in list order.
    """

    dataset: Dataset
    entries: tuple[FileEntry, ...]
    url_list: Path
    manifest: Path
    urls: tuple[str, ...]


def offer(
    dataset: Dataset,
    root: Path,
    lists_dir: Path,
    base_url: str,
    *,
    checksums: bool,
    url_location: str | None = None,
) -> Offered:
    """Make sure ``dataset`` exists under ``root`` and write the client lists.

    Parameters
    ----------
    dataset : Dataset
        What to offer.
    root : Path
        The server's document root.
    lists_dir : Path
        Where the URL list and manifest go.
    base_url : str
        ``http://127.0.0.1:PORT`` of the server.
    checksums : bool
        Put ``sha256:<hex>`` in the manifest's checksum column (else leave it empty).
    url_location : str, optional
        URL path prefix to offer the files under instead of ``dataset.location`` (a server
        location aliased to the same directory, such as nginx's paced ``/paced/``).

    Returns
    -------
    Offered
    """
    directory = root / dataset.relative_dir
    entries = _load_index(directory, dataset) or _generate(directory, dataset)
    served = dataset.relative_dir
    if url_location is not None:
        served = f"{url_location}/{served.split('/', 1)[1]}"
    urls = tuple(f"{base_url}/{served}/{e.name}" for e in entries)
    return _write_lists(dataset, entries, urls, lists_dir, checksums=checksums)


def offer_listing(
    listing: Sequence[Mapping[str, object]], lists_dir: Path, *, stem: str, checksums: bool
) -> Offered:
    """Offer files another server lists (url, size, sha256 each), such as the simulator.

    Parameters
    ----------
    listing : sequence of mapping
        One entry per file with ``url``, ``size`` and ``sha256`` (``/api/files``).
    lists_dir : Path
        Where the URL list and manifest go.
    stem : str
        Name of the dataset in the report.
    checksums : bool
        Put ``sha256:<hex>`` in the manifest's checksum column.

    Returns
    -------
    Offered
        Each file named by the basename of its URL (they must differ).
    """
    entries, urls = [], []
    for item in listing:
        url = str(item["url"])
        name = urlsplit(url).path.rsplit("/", 1)[-1]
        size = item["size"]
        if not isinstance(size, int):
            raise ValueError(f"listing entry {url}: size {size!r} is not a number of bytes")
        entries.append(FileEntry(name, size, str(item["sha256"])))
        urls.append(url)
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ValueError("listing: two files share a basename; clients would overwrite one")
    sizes = {e.size for e in entries}
    dataset = Dataset(stem, len(entries), sizes.pop() if len(sizes) == 1 else 0, location="")
    return _write_lists(dataset, tuple(entries), tuple(urls), lists_dir, checksums=checksums)


def _write_lists(
    dataset: Dataset,
    entries: tuple[FileEntry, ...],
    urls: tuple[str, ...],
    lists_dir: Path,
    *,
    checksums: bool,
) -> Offered:
    """Write the URL list and skyhaul's manifest for ``entries`` at ``urls``."""
    lists_dir.mkdir(parents=True, exist_ok=True)
    url_list = lists_dir / "urls.txt"
    url_list.write_text("".join(f"{u}\n" for u in urls))
    manifest = lists_dir / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["url", "path", "size", "checksum"])
        for url, entry in zip(urls, entries, strict=True):
            checksum = f"sha256:{entry.sha256}" if checksums else ""
            writer.writerow([url, entry.name, entry.size, checksum])
    return Offered(dataset, entries, url_list, manifest, urls)


def count_ok(offered: Offered, out_dir: Path, *, check_sha256: bool = True) -> int:
    """Count the offered files present in ``out_dir`` with the right size (and sha256)."""
    ok = 0
    for entry in offered.entries:
        path = out_dir / entry.name
        try:
            if path.stat().st_size != entry.size:
                continue
        except OSError:
            continue
        if not check_sha256 or _sha256(path) == entry.sha256:
            ok += 1
    return ok


def _load_index(directory: Path, dataset: Dataset) -> tuple[FileEntry, ...] | None:
    try:
        raw = json.loads((directory / _INDEX).read_text())
        entries = tuple(FileEntry(**item) for item in raw)
    except (OSError, ValueError, TypeError):
        return None
    names = dataset.names()
    if [e.name for e in entries] != names or any(e.size != dataset.size for e in entries):
        return None
    for name in names:
        try:
            if (directory / name).stat().st_size != dataset.size:
                return None
        except OSError:
            return None
    return entries


def _generate(directory: Path, dataset: Dataset) -> tuple[FileEntry, ...]:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    entries = []
    for name in dataset.names():
        digest = hashlib.sha256()
        with (directory / name).open("wb") as handle:
            left = dataset.size
            while left:
                block = os.urandom(min(_CHUNK, left))
                digest.update(block)
                handle.write(block)
                left -= len(block)
        entries.append(FileEntry(name, dataset.size, digest.hexdigest()))
    index = [{"name": e.name, "size": e.size, "sha256": e.sha256} for e in entries]
    (directory / _INDEX).write_text(json.dumps(index))
    return tuple(entries)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
