"""The floor of a client on aiohttp: a bare loop, no checks, no records.

``python -m benchmarks.clients.aiohttp_get LIST DIR [--max-conn N] [--uvloop]``: one
session, one GET per URL, each body streamed in 1 MiB chunks into ``DIR/<basename>``.
Every URL at once by default (the floor for a few large files); with ``--max-conn N``, N
requests at a time, each of N workers taking the next URL (the floor for many small
files). ``--uvloop`` runs it on uvloop, as skyhaul runs. Exit code 0 when every response
was 200.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

_CHUNK = 1 << 20


async def _fetch(session: aiohttp.ClientSession, url: str, directory: Path) -> bool:
    async with session.get(url) as response:
        if response.status != 200:
            return False
        with (directory / Path(urlsplit(url).path).name).open("wb") as handle:
            async for block in response.content.iter_chunked(_CHUNK):
                handle.write(block)
    return True


async def _fetch_all(urls: list[str], directory: Path, max_conn: int | None) -> list[bool]:
    connector = aiohttp.TCPConnector(limit=max_conn or len(urls) or 1)
    async with aiohttp.ClientSession(connector=connector) as session:
        if max_conn is None:
            return await asyncio.gather(*(_fetch(session, url, directory) for url in urls))
        shared = iter(urls)

        async def worker() -> list[bool]:
            return [await _fetch(session, url, directory) for url in shared]

        done = await asyncio.gather(*(worker() for _ in range(max_conn)))
        return [ok for worker_done in done for ok in worker_done]


def main(argv: list[str] | None = None) -> int:
    """Run the download; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url_list", type=Path)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--max-conn", type=int, default=None)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args(argv)
    args.directory.mkdir(parents=True, exist_ok=True)
    work = _fetch_all(args.url_list.read_text().split(), args.directory, args.max_conn)
    if args.uvloop:
        import uvloop  # only when asked for

        done = uvloop.run(work)
    else:
        done = asyncio.run(work)
    return 0 if all(done) else 1


if __name__ == "__main__":
    sys.exit(main())
