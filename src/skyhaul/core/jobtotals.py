"""A job's progress read from the catalog: per-state totals of its files, and a speed.

Rules:
- A job run by workers elsewhere has no progress board: its steward reads the totals of
  the job's files by state (:class:`FileTotals`) about once a second and turns them into
  the :class:`~skyhaul.core.jobprogress.JobProgress` every viewer reads.
- Files done are DOWNLOADED or IGNORED ones; bytes done are the sizes of those plus the
  bytes in-flight files have on disk (as their workers' heartbeats last recorded them).
  FAILED files are "retrying", ABANDONED ones "failed".
- The speed is the growth of bytes done over a sliding window (:class:`SpeedWindow`,
  times given by the caller); the ETA is what is left at that speed.
- Pure: standard library only, no clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from skyhaul.core.jobprogress import JobProgress
from skyhaul.core.lifecycle import FileState

__all__ = ["FileTotals", "SpeedWindow", "progress_from_totals"]

_DONE = frozenset({FileState.DOWNLOADED, FileState.IGNORED})


@dataclass(frozen=True, slots=True)
class FileTotals:
    """The files of one job in one state.

    Parameters
    ----------
    count : int
        How many.
    sized : int
        How many have a known size.
    bytes : int
        Their known sizes added up.
    bytes_done : int
        Bytes on disk by the catalog's account (in-flight files' heartbeats).
    """

    count: int = 0
    sized: int = 0
    bytes: int = 0
    bytes_done: int = 0


@dataclass(slots=True)
class SpeedWindow:
    """Bytes per second over the last ``seconds`` of samples.

    Parameters
    ----------
    seconds : float
        Width of the window.
    """

    seconds: float = 10.0
    _samples: deque[tuple[float, int]] = field(default_factory=deque)

    def add(self, at: float, bytes_done: int) -> float:
        """Record ``bytes_done`` at time ``at`` (seconds); return the speed now."""
        self._samples.append((at, bytes_done))
        while len(self._samples) > 2 and at - self._samples[1][0] >= self.seconds:
            self._samples.popleft()
        first_at, first = self._samples[0]
        if at <= first_at:
            return 0.0
        return max(0.0, (bytes_done - first) / (at - first_at))


def bytes_done(totals: Mapping[FileState, FileTotals]) -> int:
    """Bytes of a job on disk: its finished files' sizes and in-flight files' bytes."""
    finished = sum(totals[state].bytes for state in _DONE if state in totals)
    moving = totals.get(FileState.DOWNLOADING, FileTotals()).bytes_done
    return finished + moving


def progress_from_totals(totals: Mapping[FileState, FileTotals], *, speed: float) -> JobProgress:
    """The progress of a job whose files have ``totals``, moving at ``speed`` bytes/s.

    Returns
    -------
    JobProgress
        Speed rounded to 0.1 byte/s and the ETA to 0.1 s, as :func:`job_progress` does;
        no files in flight are named (the catalog knows only their counts).
    """
    count = sum(t.count for t in totals.values())
    sized = sum(t.sized for t in totals.values())
    total = sum(t.bytes for t in totals.values()) if sized == count else None
    done = bytes_done(totals)
    eta = None
    if total is not None and speed > 0:
        eta = round(max(0, total - done) / speed, 1)
    return JobProgress(
        files_done=sum(totals[state].count for state in _DONE if state in totals),
        files_total=count,
        files_failed=totals.get(FileState.ABANDONED, FileTotals()).count,
        bytes_done=done,
        bytes_total=total,
        speed=round(speed, 1),
        eta=eta,
        files_retrying=totals.get(FileState.FAILED, FileTotals()).count,
    )
