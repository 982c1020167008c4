"""The floor of a client on aiohttp that keeps skyhaul's promises for small files.

``python -m benchmarks.clients.guarded_get LIST DIR CATALOG [--max-conn N]``: one process
on uvloop, ``N`` workers (16 by default) each taking the next URL, and per file only what
skyhaul's "downloaded" means (README, "What downloaded means"), written as plainly as it
can be:

- every URL registered first in a SQLite catalog (WAL, ``synchronous=NORMAL``, as
  skyhaul's), in one transaction;
- the body streamed into ``<name>.part`` (created with ``O_EXCL | O_NOFOLLOW`` under the
  directory's descriptor), hashed with sha256 as it is written, its size checked;
- fsync, rename to the final name; every 256 files (and at the end) one fsync of the
  directory, then one transaction recording those files DOWNLOADED with size and sha256.

No claims or leases (one process), no retries, no resume, no progress, no threads: the
file system calls run on the event loop, which costs nothing on ``/dev/shm``. Exit code 0
when every file was recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sqlite3
import sys
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import uvloop

_BATCH = 256
_PART = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class _Catalog:
    def __init__(self, path: Path, urls: list[str]) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY, url TEXT UNIQUE,"
            " state TEXT NOT NULL, size INTEGER, sha256 TEXT)"
        )
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(
            "INSERT INTO files (url, state) VALUES (?, 'DISCOVERED')", ((u,) for u in urls)
        )
        self.db.execute("COMMIT")
        self.ids = dict(self.db.execute("SELECT url, id FROM files"))
        self.done: list[tuple[int, str, int]] = []
        self.recorded = 0

    def record(self, directory: int) -> None:
        """fsync the directory (the renames are durable), then mark the files DOWNLOADED."""
        if not self.done:
            return
        os.fsync(directory)
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(
            "UPDATE files SET state = 'DOWNLOADED', size = ?, sha256 = ? WHERE id = ?",
            ((size, digest, file_id) for file_id, digest, size in self.done),
        )
        self.db.execute("COMMIT")
        self.recorded += len(self.done)
        self.done = []


async def _fetch(
    session: aiohttp.ClientSession, url: str, directory: int, catalog: _Catalog
) -> None:
    name = Path(urlsplit(url).path).name
    part = f"{name}.part"
    async with session.get(url) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}")
        expected = response.content_length
        fd = os.open(part, _PART, 0o644, dir_fd=directory)
        try:
            digest = hashlib.sha256()
            size = 0
            async for chunk, _ in response.content.iter_chunks():
                os.write(fd, chunk)
                digest.update(chunk)
                size += len(chunk)
            if expected is not None and size != expected:
                raise RuntimeError(f"{url}: {size} of {expected} bytes")
            os.fsync(fd)
        finally:
            os.close(fd)
    os.rename(part, name, src_dir_fd=directory, dst_dir_fd=directory)
    catalog.done.append((catalog.ids[url], digest.hexdigest(), size))
    if len(catalog.done) >= _BATCH:
        catalog.record(directory)


async def _fetch_all(urls: list[str], directory: Path, catalog: _Catalog, max_conn: int) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        connector = aiohttp.TCPConnector(limit=max_conn)
        async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
            shared = iter(urls)

            async def worker() -> None:
                for url in shared:
                    await _fetch(session, url, descriptor, catalog)

            await asyncio.gather(*(worker() for _ in range(max_conn)))
        catalog.record(descriptor)
    finally:
        os.close(descriptor)


def main(argv: list[str] | None = None) -> int:
    """Run the download; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url_list", type=Path)
    parser.add_argument("directory", type=Path)
    parser.add_argument("catalog", type=Path)
    parser.add_argument("--max-conn", type=int, default=16)
    args = parser.parse_args(argv)
    args.directory.mkdir(parents=True, exist_ok=True)
    urls = args.url_list.read_text().split()
    catalog = _Catalog(args.catalog, urls)
    uvloop.run(_fetch_all(urls, args.directory, catalog, args.max_conn))
    return 0 if catalog.recorded == len(urls) else 1


if __name__ == "__main__":
    sys.exit(main())
