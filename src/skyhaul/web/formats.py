"""How numbers read on a page: sizes, speeds, ETAs, times and a job's percent.

Rules:
- The first paint (Jinja filters here) and the live updates (``static/format.js``) write
  the same text for the same value, so a page does not flicker when the script takes over:
  a change here is made there too.
- Sizes are binary (KiB, MiB, GiB); an ETA reads ``1m 05s``; times are UTC
  ``YYYY-MM-DD HH:MM:SS``; an unknown value is an en dash.
- A job's percent is of its bytes when their total is known, else of its files; a
  succeeded job is 100%.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["FILTERS", "duration", "job_percent", "params", "size", "speed", "summary_value", "when"]

UNKNOWN = "\u2013"
_PARAMS_WIDTH = 90
_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def size(n: object) -> str:
    """``512 B``, ``8.0 MiB``, ``1.5 GiB``; an en dash when unknown."""
    if not isinstance(n, int | float) or isinstance(n, bool) or not math.isfinite(n):
        return UNKNOWN
    if n < 1024:
        return f"{int(n)} B"
    value = n / 1024
    index = 0
    while value >= 1023.95 and index < len(_UNITS) - 1:
        value /= 1024
        index += 1
    return f"{value:.1f} {_UNITS[index]}"


def speed(n: object) -> str:
    """A byte rate: ``85.0 MiB/s``."""
    text = size(n)
    return text if text == UNKNOWN else text + "/s"


def duration(seconds: object) -> str:
    """``4s``, ``1m 05s``, ``2h 03m``, ``3d 04h``; an en dash when unknown."""
    if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
        return UNKNOWN
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def when(iso: object) -> str:
    """An ISO 8601 time as ``YYYY-MM-DD HH:MM:SS`` (the catalog's times are UTC)."""
    if not isinstance(iso, str) or not iso:
        return UNKNOWN
    return iso.replace("T", " ")[:19]


def job_percent(job: Mapping[str, Any]) -> int:
    """How far a job is, 0 to 100 (floored, so 99.9% is not shown as done)."""
    if job.get("state") == "succeeded":
        return 100
    progress = job.get("progress") or {}
    done, total = progress.get("bytes_done") or 0, progress.get("bytes_total")
    if not total:
        done, total = progress.get("files_done") or 0, progress.get("files_total")
    if not total:
        return 0
    return max(0, min(100, math.floor(100 * float(done) / float(total))))


def params(values: object) -> str:
    """A job's parameters in one short line: ``obs_ids: a, b, c +4 · source: s3``."""
    if not isinstance(values, Mapping):
        return ""
    parts = []
    for key, value in values.items():
        if value is None or value == [] or value == {} or value == "" or value is False:
            continue
        if isinstance(value, list):
            shown = ", ".join(str(v) for v in value[:3])
            text = shown + (f" +{len(value) - 3}" if len(value) > 3 else "")
        elif isinstance(value, Mapping):
            text = "{\u2026}"
        else:
            text = str(value)
        parts.append(f"{key}: {text}" if value is not True else str(key))
    line = " \u00b7 ".join(parts)
    return line if len(line) <= _PARAMS_WIDTH else line[: _PARAMS_WIDTH - 1] + "\u2026"


def summary_value(value: object, key: str) -> str:
    """One value of a job's summary: sizes and durations read as such (by their key)."""
    if value is None:
        return UNKNOWN
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "bytes" in key:
            return size(value)
        if "seconds" in key:
            return duration(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


#: The Jinja filters of the pages' templates.
FILTERS = {
    "size": size,
    "speed": speed,
    "duration": duration,
    "when": when,
    "percent": job_percent,
    "params": params,
    "summary_value": summary_value,
}
