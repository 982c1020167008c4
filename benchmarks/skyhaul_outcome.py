"""What a skyhaul run says about itself: its ``--json`` summary and its catalog's status."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.procs import capture

__all__ = ["catalog_downloaded", "read_summary"]

_DECODER = json.JSONDecoder()


def read_summary(stdout: Path) -> dict[str, object] | None:
    """Return the JSON object skyhaul printed on stdout, or ``None``."""
    try:
        return _first_object(stdout.read_text(errors="replace"))
    except OSError:
        return None


def catalog_downloaded(
    program: str, catalog_url: str, env: dict[str, str] | None = None
) -> int | None:
    """Return how many files ``skyhaul status --json`` counts as DOWNLOADED (``None``: unknown).

    ``env`` is the environment the run had, so that a base revision reads its own catalog.
    """
    code, output = capture(
        [program, "status", "--json", "--catalog", catalog_url], timeout=120, env=env
    )
    document = _first_object(output) if code == 0 else None
    try:
        count = document["states"]["DOWNLOADED"]["count"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    return count if isinstance(count, int) else None


def _first_object(text: str) -> dict[str, object] | None:
    """The first JSON object in ``text`` (log lines around it are skipped)."""
    start = text.find("{")
    while start != -1:
        try:
            document, _ = _DECODER.raw_decode(text, start)
        except ValueError:
            document = None
        if isinstance(document, dict):
            return document
        start = text.find("{", start + 1)
    return None
