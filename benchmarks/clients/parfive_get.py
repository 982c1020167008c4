"""Download every URL of a list into a directory with parfive, as a parfive user would.

``python -m benchmarks.clients.parfive_get LIST DIR [--max-conn N]``: one
``parfive.Downloader`` (``max_conn`` connections, parfive's default splitting), no
progress bar, overwriting. Prints ``ok=<n> failed=<n>``; exit code 0 when nothing failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import parfive  # type: ignore[import-untyped]


def main(argv: list[str] | None = None) -> int:
    """Run the download; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url_list", type=Path)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--max-conn", type=int, default=16)
    args = parser.parse_args(argv)
    downloader = parfive.Downloader(max_conn=args.max_conn, progress=False, overwrite=True)
    for url in args.url_list.read_text().split():
        downloader.enqueue_file(url, path=args.directory)
    results = downloader.download()
    print(f"ok={len(results)} failed={len(results.errors)}")
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
