"""Followers of one job's Server-Sent Events, as browsers on the job page would be.

Rules:
- A follower opens ``GET /api/jobs/{id}/events`` and reads it to its end, counting the
  messages by event name and the bytes received; it keeps only the last ``job``
  message's data (parsed once, at the end: a follower should cost the harness little).
- A message is the lines up to a blank line (the SSE wire format); comments (``:``
  keep-alives) and ``retry:`` count as bytes, not as messages.
- Its push rate is the ``job`` messages after the first (the snapshot it connects to)
  over the time between the first and the last: what the server pushes while the job
  runs, whatever the follower's connect time.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

__all__ = ["EventCounter", "Followed", "follow", "push_rate"]

#: The event each version of the job is sent as, and the one after the final version.
JOB, END = "job", "end"


@dataclass(slots=True)
class EventCounter:
    """SSE messages counted from a stream fed chunk by chunk.

    ``first_job_at`` and ``last_job_at``: when the first and the last ``job`` message came
    (the ``now`` given with their last chunk).
    """

    counts: Counter[str] = field(default_factory=Counter)
    received: int = 0
    last_job: str | None = None
    first_job_at: float | None = None
    last_job_at: float | None = None
    _pending: bytes = b""
    _event: str = "message"
    _data: list[str] = field(default_factory=list)

    def feed(self, chunk: bytes, now: float) -> None:
        """Take ``chunk`` (any cut of the stream) received at ``now``."""
        self.received += len(chunk)
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        for raw in lines:
            self._line(raw.rstrip(b"\r").decode(), now)

    def _line(self, line: str, now: float) -> None:
        if not line:
            if self._data:
                self._dispatch(now)
            self._event, self._data = "message", []
            return
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)

    def _dispatch(self, now: float) -> None:
        self.counts[self._event] += 1
        if self._event == JOB:
            self.last_job = "\n".join(self._data)
            if self.first_job_at is None:
                self.first_job_at = now
            self.last_job_at = now


@dataclass(frozen=True, slots=True)
class Followed:
    """What one follower saw of a job.

    Parameters
    ----------
    status : int
        The HTTP status of the event stream (0: it could not be opened).
    jobs : int
        ``event: job`` messages received.
    ended : bool
        ``event: end`` came (the server said the job is finished).
    bytes : int
        Bytes of the stream received.
    final_state : str or None
        The job's state in the last ``job`` message.
    rate : float or None
        Messages per second pushed after the first (None: fewer than two).
    waited : float or None
        Seconds from opening the stream to the first ``job`` message (None: none came).
    error : str
        Why the stream stopped early, if it did.
    """

    status: int
    jobs: int
    ended: bool
    bytes: int
    final_state: str | None
    rate: float | None
    waited: float | None = None
    error: str = ""


def push_rate(jobs: int, first: float | None, last: float | None) -> float | None:
    """``job`` messages per second after the first, between the first and the last."""
    if jobs < 2 or first is None or last is None or last <= first:
        return None
    return (jobs - 1) / (last - first)


def _state(data: str | None) -> str | None:
    if data is None:
        return None
    document: Any = json.loads(data)
    return str(document["state"]) if isinstance(document, dict) else None


async def follow(session: aiohttp.ClientSession, url: str) -> Followed:
    """Read the event stream at ``url`` to its end; what it delivered."""
    counter = EventCounter()
    status, error, opened = 0, "", time.monotonic()
    try:
        async with session.get(url, headers={"Accept": "text/event-stream"}) as answer:
            status = answer.status
            if status == 200:
                async for chunk in answer.content.iter_any():
                    counter.feed(chunk, time.monotonic())
            else:
                error = (await answer.text())[:200]
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    jobs = counter.counts[JOB]
    return Followed(
        status=status,
        jobs=jobs,
        ended=counter.counts[END] > 0,
        bytes=counter.received,
        final_state=_state(counter.last_job),
        rate=push_rate(jobs, counter.first_job_at, counter.last_job_at),
        waited=None if counter.first_job_at is None else counter.first_job_at - opened,
        error=error,
    )
