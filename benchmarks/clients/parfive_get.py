"""Download every URL of a list into a directory with parfive, as a parfive user would.

``python -m benchmarks.clients.parfive_get LIST DIR [--max-conn N] [--max-splits N]``: one
``parfive.Downloader(max_conn=N, max_splits=N)``, no progress bar, overwriting. Prints
``ok=<n> failed=<n>``; exit code 0 when nothing failed.

``--max-splits`` is parfive's own knob: the most ranged requests one file is cut into when
the server accepts ranges. Its default, 5, cuts even a 64 KiB file into five requests;
``--max-splits 1`` (one request per file) is what a parfive user picks for small files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import parfive  # type: ignore[import-untyped]

#: parfive's own default for ``Downloader(max_splits=...)`` (parfive 2.x).
DEFAULT_MAX_SPLITS = 5


def main(argv: list[str] | None = None) -> int:
    """Run the download; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url_list", type=Path)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--max-conn", type=int, default=16)
    parser.add_argument("--max-splits", type=int, default=DEFAULT_MAX_SPLITS)
    args = parser.parse_args(argv)
    downloader = parfive.Downloader(
        max_conn=args.max_conn, max_splits=args.max_splits, progress=False, overwrite=True
    )
    for url in args.url_list.read_text().split():
        downloader.enqueue_file(url, path=args.directory)
    results = downloader.download()
    print(f"ok={len(results)} failed={len(results.errors)}")
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
