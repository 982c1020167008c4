"""Live progress of a run, as data: the CLI bars, the web page and the JSON API draw it.

Rules:
- The board only counts; it never draws. ``snapshot()`` returns an immutable value.
- The clock is injected (``time.monotonic`` in production, a fake in tests).
- ``advance`` is the hot path (one call per network chunk): O(1) amortised, and memory
  stays bounded however many chunks arrive, because throughput is kept in time buckets
  of ``BUCKET_SECONDS`` over a sliding window, not as one sample per chunk.
- Byte totals count what is on disk: a resumed file starts with its bytes done, a file
  whose server ignored a range (``restart_file``) gives its bytes back, and a failed file
  keeps them (its ``.part`` survives for the next attempt).
- Each finished file has one latest outcome: done, failed (for good: abandoned, or left
  failed when the run ends) or retrying (its attempt failed and another one will come).
  Starting such a file again takes it out of its count.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

BUCKET_SECONDS = 0.25

_Outcome = Literal["done", "failed", "retrying"]


@dataclass(frozen=True, slots=True)
class FileProgress:
    """Progress of one file in flight.

    Parameters
    ----------
    key : str
        Identifier the engine uses for the file (unique within the board).
    name : str
        What to show (usually the relative destination path).
    total : int or None
        Size in bytes, when known.
    done : int
        Bytes on disk so far.
    speed : float
        Bytes per second over the sliding window.
    source : str or None
        Where its bytes come from now (a URL scheme: ``https``, ``s3``).
    """

    key: str
    name: str
    total: int | None
    done: int
    speed: float
    source: str | None = None


@dataclass(frozen=True, slots=True)
class ProgressSnapshot:
    """The whole run at one instant.

    Parameters
    ----------
    files_total, files_done, files_failed : int
        Files expected, finished successfully, and failed for good (latest outcome).
    bytes_total : int or None
        Bytes expected; ``None`` when some expected size is unknown.
    bytes_done : int
        Bytes on disk.
    speed : float
        Bytes per second over the sliding window.
    eta : float or None
        Seconds left at the current speed; ``None`` when unknown (no total or no speed).
    elapsed : float
        Seconds since the board was created.
    active : tuple of FileProgress
        Files in flight, most recently active first, at most ``max_active`` of them.
    files_retrying : int
        Files whose attempt failed and that wait for another (latest outcome).
    """

    files_total: int
    files_done: int
    files_failed: int
    bytes_total: int | None
    bytes_done: int
    speed: float
    eta: float | None
    elapsed: float
    active: tuple[FileProgress, ...]
    files_retrying: int = 0


class _Throughput:
    """Bytes per second over a sliding window, kept as a bounded deque of time buckets."""

    __slots__ = ("_buckets", "_nbuckets", "_origin", "_sum")

    def __init__(self, window: float, origin: float) -> None:
        self._nbuckets = max(1, math.ceil(window / BUCKET_SECONDS))
        self._buckets: deque[list[int]] = deque()  # [bucket index, bytes]
        self._sum = 0
        self._origin = origin

    def _expire(self, index: int) -> None:
        oldest = index - self._nbuckets
        while self._buckets and self._buckets[0][0] <= oldest:
            self._sum -= self._buckets.popleft()[1]

    def add(self, now: float, nbytes: int) -> None:
        index = math.floor(now / BUCKET_SECONDS)
        if self._buckets and self._buckets[-1][0] == index:
            self._buckets[-1][1] += nbytes
        else:
            self._buckets.append([index, nbytes])
            self._expire(index)
        self._sum += nbytes

    def rate(self, now: float) -> float:
        index = math.floor(now / BUCKET_SECONDS)
        self._expire(index)
        # The kept buckets cover whole buckets plus the current partial one; early on they
        # only cover the time since the origin, so the first seconds are not underestimated.
        covered = (self._nbuckets - 1) * BUCKET_SECONDS + (now - index * BUCKET_SECONDS)
        span = min(covered, now - self._origin)
        return self._sum / max(span, BUCKET_SECONDS)


class _ActiveFile:
    __slots__ = ("done", "last_active", "meter", "name", "source", "total")

    def __init__(self, name: str, total: int | None, done: int, now: float, window: float) -> None:
        self.source: str | None = None
        self.name = name
        self.total = total
        self.done = done
        self.meter = _Throughput(window, now)
        self.last_active = now


class ProgressBoard:
    """Counts files and bytes of a run and measures its speed.

    Parameters
    ----------
    clock : callable
        Returns the current time in seconds (monotonic).
    window : float
        Seconds of history behind speeds and the ETA.
    max_active : int
        Most files listed in ``ProgressSnapshot.active``.
    """

    def __init__(
        self, clock: Callable[[], float], *, window: float = 5.0, max_active: int = 10
    ) -> None:
        if window <= 0:
            raise ValueError(f"window must be > 0, got {window}")
        self._clock = clock
        self._window = window
        self._max_active = max_active
        self._started = clock()
        self._meter = _Throughput(window, self._started)
        self._files_total = 0
        self._bytes_total: int | None = 0
        self._bytes_done = 0
        self._active: dict[str, _ActiveFile] = {}
        self._credited: dict[str, int] = {}  # bytes counted in _bytes_done, per file
        self._outcome: dict[str, _Outcome] = {}  # latest outcome of finished files
        self._counts: dict[_Outcome, int] = {"done": 0, "failed": 0, "retrying": 0}

    def add_expected(self, files: int, bytes: int | None) -> None:
        """Announce ``files`` more files of ``bytes`` bytes (``None``: sizes unknown)."""
        self._files_total += files
        if bytes is None or self._bytes_total is None:
            self._bytes_total = None
        else:
            self._bytes_total += bytes

    def start_file(
        self, key: str, name: str, total: int | None, done: int = 0, source: str | None = None
    ) -> None:
        """A file is in flight; ``done`` bytes of it are already on disk (resume).

        ``source`` says where its bytes come from (a URL scheme), when known.
        """
        now = self._clock()
        self._bytes_done += done - self._credited.get(key, 0)
        self._credited[key] = done
        previous = self._outcome.pop(key, None)
        if previous is not None:
            self._counts[previous] -= 1
        self._active[key] = active = _ActiveFile(name, total, done, now, self._window)
        active.source = source

    def set_source(self, key: str, source: str) -> None:
        """File ``key``'s bytes now come from ``source`` (it moved to a mirror)."""
        file = self._active.get(key)
        if file is not None:
            file.source = source

    def advance(self, key: str, nbytes: int) -> None:
        """``nbytes`` more bytes of file ``key`` are on disk (called per chunk)."""
        now = self._clock()
        file = self._active[key]
        file.done += nbytes
        file.last_active = now
        file.meter.add(now, nbytes)
        self._credited[key] += nbytes
        self._bytes_done += nbytes
        self._meter.add(now, nbytes)

    def restart_file(self, key: str) -> None:
        """File ``key`` starts again from byte 0 (the server ignored a range request)."""
        file = self._active[key]
        self._bytes_done -= file.done
        self._credited[key] = 0
        file.done = 0
        file.last_active = self._clock()

    def finish_file(self, key: str, ok: bool) -> None:
        """File ``key`` is no longer in flight: downloaded (``ok``) or failed for good."""
        self._settle(key, "done" if ok else "failed")

    def retry_file(self, key: str) -> None:
        """File ``key``'s attempt failed and another will come: it is retrying until it
        starts again, or until :meth:`finish_file` says how it ended."""
        self._settle(key, "retrying")

    def _settle(self, key: str, outcome: _Outcome) -> None:
        self._active.pop(key, None)
        previous = self._outcome.get(key)
        if previous is not None:  # finished twice without a new start: count once
            self._counts[previous] -= 1
        self._outcome[key] = outcome
        self._counts[outcome] += 1

    def snapshot(self) -> ProgressSnapshot:
        """Return the run's progress now."""
        now = self._clock()
        speed = self._meter.rate(now)
        eta: float | None = None
        if self._bytes_total is not None:
            remaining = max(0, self._bytes_total - self._bytes_done)
            if remaining == 0:
                eta = 0.0
            elif speed > 0:
                eta = remaining / speed
        recent = sorted(self._active.items(), key=lambda item: item[1].last_active, reverse=True)
        active = tuple(
            FileProgress(key, f.name, f.total, f.done, f.meter.rate(now), f.source)
            for key, f in recent[: self._max_active]
        )
        return ProgressSnapshot(
            files_total=self._files_total,
            files_done=self._counts["done"],
            files_failed=self._counts["failed"],
            bytes_total=self._bytes_total,
            bytes_done=self._bytes_done,
            speed=speed,
            eta=eta,
            elapsed=now - self._started,
            active=active,
            files_retrying=self._counts["retrying"],
        )


def merge_snapshots(
    own: ProgressSnapshot, others: Sequence[ProgressSnapshot], *, max_active: int = 10
) -> ProgressSnapshot:
    """The progress of a run shared by several processes, from each one's board.

    Parameters
    ----------
    own : ProgressSnapshot
        The board of the process that draws: it alone holds the run's expected totals
        and its clock.
    others : sequence of ProgressSnapshot
        The latest snapshot of each other process; their totals are ignored (each sees
        the whole selection, not its share).
    max_active : int
        Most files listed in ``active``.

    Returns
    -------
    ProgressSnapshot
        Files and bytes done and speeds added up, the ETA recomputed from them.
    """
    parts = (own, *others)
    bytes_done = sum(p.bytes_done for p in parts)
    speed = sum(p.speed for p in parts)
    eta: float | None = None
    if own.bytes_total is not None:
        remaining = max(0, own.bytes_total - bytes_done)
        if remaining == 0:
            eta = 0.0
        elif speed > 0:
            eta = remaining / speed
    active = sorted((f for p in parts for f in p.active), key=lambda f: f.speed, reverse=True)
    return ProgressSnapshot(
        files_total=own.files_total,
        files_done=sum(p.files_done for p in parts),
        files_failed=sum(p.files_failed for p in parts),
        bytes_total=own.bytes_total,
        bytes_done=bytes_done,
        speed=speed,
        eta=eta,
        elapsed=own.elapsed,
        active=tuple(active[:max_active]),
        files_retrying=sum(p.files_retrying for p in parts),
    )


class SnapshotSource(Protocol):
    """Anything that tells a run's progress: a ``ProgressBoard``, or several merged."""

    def snapshot(self) -> ProgressSnapshot:
        """Return the progress now."""
        ...
