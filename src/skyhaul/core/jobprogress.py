"""A job's live progress as a value: what its owner publishes and every viewer reads.

Rules:
- :class:`JobProgress` is what a running job publishes to the catalog about once a second
  and what ``skyhaul jobs show``, the web view and remote workers read back, so
  ``JobProgress.from_json(p.as_json()) == p`` holds exactly (a test checks it).
- Rounding happens once, when a board's snapshot becomes a ``JobProgress``
  (:func:`job_progress`): speeds to 0.1 byte/s, the ETA to 0.1 s. The JSON then stays
  short and the value round-trips.
- :func:`progress_line` is the one-line text of a job's progress; drawing it (a terminal,
  a page) is the caller's business.
- Pure: standard library only, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from skyhaul.core.progress import ProgressSnapshot
from skyhaul.core.units import format_duration, format_size

__all__ = ["InFlightFile", "JobProgress", "job_progress", "progress_line"]


@dataclass(frozen=True, slots=True)
class InFlightFile:
    """One file a running job is moving.

    Parameters
    ----------
    name : str
        What to show (usually the relative destination path).
    bytes_done : int
        Bytes on disk so far.
    bytes_total : int or None
        Size, when known.
    speed : float
        Bytes per second, over the board's sliding window.
    source : str or None
        Where the bytes come from (``"http"``, ``"s3"``), when the engine says.
    """

    name: str
    bytes_done: int
    bytes_total: int | None
    speed: float
    source: str | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the row as a JSON-ready dict."""
        return {
            "name": self.name,
            "bytes_done": self.bytes_done,
            "bytes_total": self.bytes_total,
            "speed": self.speed,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InFlightFile:
        """Read a row written by :meth:`as_json` (unknown keys are ignored).

        Raises
        ------
        ValueError
            When a field is missing or of the wrong type.
        """
        return cls(
            name=_text(data, "name"),
            bytes_done=_int(data, "bytes_done"),
            bytes_total=_optional_int(data, "bytes_total"),
            speed=_float(data, "speed"),
            source=_optional_text(data, "source"),
        )


@dataclass(frozen=True, slots=True)
class JobProgress:
    """A running job at one instant.

    Parameters
    ----------
    files_done, files_total, files_failed : int
        Files finished, expected, and failed for good (latest outcome).
    bytes_done : int
        Bytes on disk.
    bytes_total : int or None
        Bytes expected; None when some size is unknown.
    speed : float
        Bytes per second over the sliding window.
    eta : float or None
        Seconds left at that speed; None when unknown.
    in_flight : tuple of InFlightFile
        Files being moved now, most recently active first.
    files_retrying : int
        Files whose attempt failed and that wait for another (latest outcome); 0 in
        progress published before they were told apart from failed ones.
    """

    files_done: int = 0
    files_total: int = 0
    files_failed: int = 0
    bytes_done: int = 0
    bytes_total: int | None = None
    speed: float = 0.0
    eta: float | None = None
    in_flight: tuple[InFlightFile, ...] = ()
    files_retrying: int = 0

    def as_json(self) -> dict[str, Any]:
        """Return the progress as a JSON-ready dict."""
        return {
            "files_done": self.files_done,
            "files_total": self.files_total,
            "files_failed": self.files_failed,
            "bytes_done": self.bytes_done,
            "bytes_total": self.bytes_total,
            "speed": self.speed,
            "eta": self.eta,
            "in_flight": [item.as_json() for item in self.in_flight],
            "files_retrying": self.files_retrying,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobProgress:
        """Read progress written by :meth:`as_json` (unknown keys are ignored, so a newer
        writer never breaks an older reader).

        Raises
        ------
        ValueError
            When a field is missing or of the wrong type.
        """
        rows = data.get("in_flight", [])
        if not isinstance(rows, list) or not all(isinstance(row, Mapping) for row in rows):
            raise ValueError("progress: in_flight must be a list of objects")
        eta = data.get("eta")
        return cls(
            files_done=_int(data, "files_done"),
            files_total=_int(data, "files_total"),
            files_failed=_int(data, "files_failed"),
            bytes_done=_int(data, "bytes_done"),
            bytes_total=_optional_int(data, "bytes_total"),
            speed=_float(data, "speed"),
            eta=None if eta is None else _float(data, "eta"),
            in_flight=tuple(InFlightFile.from_json(row) for row in rows),
            files_retrying=_int(data, "files_retrying") if "files_retrying" in data else 0,
        )


def job_progress(
    snapshot: ProgressSnapshot, *, sources: Mapping[str, str] | None = None
) -> JobProgress:
    """Turn a progress board's snapshot into the progress a job publishes.

    Parameters
    ----------
    snapshot : ProgressSnapshot
        From ``ProgressBoard.snapshot()`` (or ``merge_snapshots``).
    sources : mapping of str to str, optional
        Where each in-flight file's bytes come from (``"http"``, ``"s3"``), by the key
        the engine gave the board; for files it does not name, what the board says.

    Returns
    -------
    JobProgress
        Speeds rounded to 0.1 byte/s and the ETA to 0.1 s.
    """
    named = sources or {}
    return JobProgress(
        files_done=snapshot.files_done,
        files_total=snapshot.files_total,
        files_failed=snapshot.files_failed,
        bytes_done=snapshot.bytes_done,
        bytes_total=snapshot.bytes_total,
        speed=round(snapshot.speed, 1),
        eta=None if snapshot.eta is None else round(snapshot.eta, 1),
        in_flight=tuple(
            InFlightFile(
                name=item.name,
                bytes_done=item.done,
                bytes_total=item.total,
                speed=round(item.speed, 1),
                source=named.get(item.key, item.source),
            )
            for item in snapshot.active
        ),
        files_retrying=snapshot.files_retrying,
    )


def progress_line(progress: JobProgress) -> str:
    """Say a job's progress in one line.

    For example ``312/2000 files, 1.2 GiB of 3.0 GiB, 85.0 MiB/s, ETA 21s, 16 in flight``;
    failed files, an unknown total, an unknown ETA and an empty flight change the line
    as one would expect (``2 retrying`` and ``3 failed`` are added; ``of ...``, ``ETA``
    and ``in flight`` are left out).
    """
    files = f"{progress.files_done}/{progress.files_total} files"
    setbacks = [
        f"{count} {word}"
        for count, word in (
            (progress.files_retrying, "retrying"),
            (progress.files_failed, "failed"),
        )
        if count
    ]
    if setbacks:
        files += f" ({', '.join(setbacks)})"
    amount = format_size(progress.bytes_done)
    if progress.bytes_total is not None:
        amount += f" of {format_size(progress.bytes_total)}"
    parts = [files, amount, f"{format_size(round(progress.speed))}/s"]
    if progress.eta is not None:
        parts.append(f"ETA {format_duration(progress.eta)}")
    if progress.in_flight:
        parts.append(f"{len(progress.in_flight)} in flight")
    return ", ".join(parts)


def _field(data: Mapping[str, Any], key: str) -> Any:
    try:
        return data[key]
    except KeyError:
        raise ValueError(f"progress: {key} is missing") from None


def _int(data: Mapping[str, Any], key: str) -> int:
    value = _field(data, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"progress: {key} must be a whole number, got {value!r}")
    return value


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    return None if data.get(key) is None else _int(data, key)


def _float(data: Mapping[str, Any], key: str) -> float:
    value = _field(data, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"progress: {key} must be a number, got {value!r}")
    return float(value)


def _text(data: Mapping[str, Any], key: str) -> str:
    value = _field(data, key)
    if not isinstance(value, str):
        raise ValueError(f"progress: {key} must be text, got {value!r}")
    return value


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _text(data, key)
