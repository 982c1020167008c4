"""A backfill's progress as its job publishes it: days stand for files, day files for bytes.

Rules:
- Days are the job's files. The total is the plan's days; a day is done when this run
  settles it without fault (downloaded, no data, or skipped as the plan says) and failed
  when this run ends it FAILED. A day left PENDING (interrupt, refused credentials, full
  disk) is neither: the next run redoes it.
- Bytes are those of the day files this run wrote. Their total is unknown (None): a day's
  size is known only once its file is assembled. Speed is those bytes per second since
  the plan was made, so ``bytes_done / speed`` is the time the run has taken.
- The ETA counts chunks, which arrive steadily under the rate limit where day files land
  in bursts: the chunks of the days still to run over the chunks per second since the
  first day started. It is None until a chunk has landed.
- The day being fetched is the one row in flight: its file name, the bytes of the
  answers received for it so far, their rate, and where they come from (``"http"``).
- :func:`days_progress` is the same shape read from the catalog, for a backfill that
  workers run elsewhere: its follower has no board, only the days settled so far.
- Rounding is :func:`skyhaul.core.jobprogress.job_progress`'s: speeds to 0.1 byte/s, the
  ETA to 0.1 s. Pure: the clock is injected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from skyhaul.core.backfill import DayStatus
from skyhaul.core.jobprogress import InFlightFile, JobProgress

__all__ = ["DayBoard", "days_progress"]

_DONE = frozenset({DayStatus.DOWNLOADED, DayStatus.SKIPPED_NO_DATA})


@dataclass(slots=True)
class _Day:
    name: str
    began: float
    chunks_done: int = 0
    received: int = 0


class DayBoard:
    """Counts a backfill's days, bytes and chunks; :meth:`snapshot` is its job's progress.

    Parameters
    ----------
    clock : callable
        Monotonic seconds (``time.monotonic``; a fake in tests).
    source : str
        Where a day's bytes come from, shown beside the day in flight.
    """

    def __init__(self, clock: Callable[[], float], *, source: str = "http") -> None:
        self._clock = clock
        self._source = source
        self._began = clock()
        self._first_day: float | None = None
        self._days_total = 0
        self._days_done = 0
        self._days_failed = 0
        self._bytes = 0
        self._chunks_per_day = 0
        self._chunks_left = 0  # of the days still to run, the one in flight included
        self._chunks_done = 0  # of the days this run ended (the one in flight excluded)
        self._current: _Day | None = None

    def plan(self, days: int, days_to_run: int, chunks_per_day: int) -> None:
        """The run has ``days`` planned, ``days_to_run`` of them to fetch, in
        ``chunks_per_day`` requests each."""
        self._began = self._clock()
        self._days_total = days
        self._chunks_per_day = chunks_per_day
        self._chunks_left = days_to_run * chunks_per_day

    def skip(self) -> None:
        """A planned day needs no work (its file is intact, it has no data, it failed
        before and ``--retry-failed`` was not given)."""
        self._days_done += 1

    def start_day(self, name: str) -> None:
        """The day whose file will be ``name`` is being fetched now."""
        now = self._clock()
        if self._first_day is None:
            self._first_day = now
        self._current = _Day(name, now)

    def chunk(self, chunks_done: int, received: int) -> None:
        """The day in flight has ``chunks_done`` chunks and ``received`` bytes of answers."""
        if self._current is not None:
            self._current.chunks_done = chunks_done
            self._current.received = received

    def end_day(self, status: DayStatus, size: int = 0) -> None:
        """The day in flight ended in ``status`` (PENDING: left for the next run), its
        file ``size`` bytes when it was written."""
        self._current = None
        if status is DayStatus.PENDING:
            return
        self._chunks_left -= self._chunks_per_day
        self._chunks_done += self._chunks_per_day
        if status in _DONE:
            self._days_done += 1
            self._bytes += size
        else:
            self._days_failed += 1

    def snapshot(self) -> JobProgress:
        """Return the run's progress now, as its job publishes it."""
        now = self._clock()
        elapsed = now - self._began
        current = self._current
        in_day = current.chunks_done if current is not None else 0
        landed = self._chunks_done + in_day
        eta: float | None = None
        if landed and self._first_day is not None and now > self._first_day:
            rate = landed / (now - self._first_day)
            eta = round(max(0, self._chunks_left - in_day) / rate, 1)
        in_flight: tuple[InFlightFile, ...] = ()
        if current is not None:
            took = now - current.began
            speed = round(current.received / took, 1) if took > 0 else 0.0
            in_flight = (InFlightFile(current.name, current.received, None, speed, self._source),)
        return JobProgress(
            files_done=self._days_done,
            files_total=self._days_total,
            files_failed=self._days_failed,
            bytes_done=self._bytes,
            bytes_total=None,
            speed=round(self._bytes / elapsed, 1) if elapsed > 0 else 0.0,
            eta=eta,
            in_flight=in_flight,
        )


def days_progress(
    days_total: int, days_done: int, days_failed: int, bytes_done: int, seconds: float
) -> JobProgress:
    """The progress of a backfill with ``days_done`` of ``days_total`` days done and
    ``days_failed`` failed, ``bytes_done`` bytes of day files written in ``seconds``."""
    return JobProgress(
        files_done=days_done,
        files_total=days_total,
        files_failed=days_failed,
        bytes_done=bytes_done,
        bytes_total=None,
        speed=round(bytes_done / seconds, 1) if seconds > 0 else 0.0,
        eta=None,
    )
