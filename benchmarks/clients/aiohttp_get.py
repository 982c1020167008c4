"""The floor for large files: a bare aiohttp loop, every URL at once, no checks.

``python -m benchmarks.clients.aiohttp_get LIST DIR``: one session, one GET per URL, all
concurrent, each body streamed in 1 MiB chunks into ``DIR/<basename>``. Exit code 0 when
every response was 200.
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


async def _fetch_all(urls: list[str], directory: Path) -> list[bool]:
    connector = aiohttp.TCPConnector(limit=len(urls) or 1)
    async with aiohttp.ClientSession(connector=connector) as session:
        return await asyncio.gather(*(_fetch(session, url, directory) for url in urls))


def main(argv: list[str] | None = None) -> int:
    """Run the download; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url_list", type=Path)
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    args.directory.mkdir(parents=True, exist_ok=True)
    done = asyncio.run(_fetch_all(args.url_list.read_text().split(), args.directory))
    return 0 if all(done) else 1


if __name__ == "__main__":
    sys.exit(main())
