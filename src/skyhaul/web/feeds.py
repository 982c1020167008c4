"""Live documents shared by every follower: one reader per topic, however many browsers.

Rules:
- A topic (a job, the list of jobs) has one producer task while it has followers: it
  reads the document every ``interval()`` seconds (short for a job this server runs, about
  a second for one another process runs) and wakes the followers only when it changed.
  Fifty browsers on one job cost one catalog read per tick, not fifty.
- A follower always starts from the current document (a reconnecting browser resumes from
  the job's snapshot, not from zero), then gets each new version; a slow follower skips
  versions rather than queueing them (it always gets the latest).
- A producer whose document is final (a finished job) stops; its followers get that last
  version and end. The last follower leaving stops the producer.
- A failing read (the catalog away for a moment) keeps the last document and tries again
  at the next tick.
- Closing the hub (the server stopping) ends every follower at once, and any that comes
  later: an event stream never ends on its own, and the server waits for open answers
  before it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

__all__ = ["Feed", "FeedHub", "Snapshot"]

log = logging.getLogger("skyhaul.web")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One version of a topic's document.

    Parameters
    ----------
    version : int
        Grows by one each time the document changes.
    text : str
        The document as JSON (encoded once for every follower).
    final : bool
        No later version will come.
    """

    version: int
    text: str
    final: bool


Read = Callable[[], Awaitable[Any]]


@dataclass(slots=True)
class Feed:
    """One topic's producer and the latest snapshot its followers share."""

    read: Read
    interval: Callable[[], float]
    is_final: Callable[[Any], bool]
    latest: Snapshot | None = None
    followers: int = 0
    closed: bool = False
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None

    async def produce(self) -> None:
        """Read every tick until the document is final; wake followers on change."""
        while True:
            try:
                document = await self.read()
            except Exception as exc:  # the catalog away a moment: keep the last version
                log.warning("live view: read failed (%s); trying again", exc)
            else:
                final = document is None or self.is_final(document)
                text = json.dumps(document, separators=(",", ":"))
                if self.latest is None or text != self.latest.text or final:
                    version = 1 if self.latest is None else self.latest.version + 1
                    async with self.changed:
                        self.latest = Snapshot(version, text, final)
                        self.changed.notify_all()
                if final:
                    return
            await asyncio.sleep(self.interval())


def _newer_or_closed(feed: Feed, seen: int) -> bool:
    return feed.closed or (feed.latest is not None and feed.latest.version > seen)


class FeedHub:
    """The server's live topics."""

    def __init__(self) -> None:
        self._feeds: dict[str, Feed] = {}
        self._closed = False

    async def follow(
        self,
        topic: str,
        read: Read,
        *,
        interval: Callable[[], float],
        is_final: Callable[[Any], bool] = lambda _: False,
        heartbeat: float | None = None,
    ) -> AsyncIterator[Snapshot | None]:
        """Yield ``topic``'s current snapshot, then each newer one, until it is final.

        ``read``, ``interval`` and ``is_final`` are used when this follower is the first
        (later followers share the running producer). With ``heartbeat``, None is
        yielded after that many seconds without a new version (a stream's keep-alive).
        Nothing more is yielded once the hub is closed.
        """
        if self._closed:
            return
        feed = self._feeds.get(topic)
        if feed is None or feed.task is None or feed.task.done():
            feed = Feed(read, interval, is_final)
            self._feeds[topic] = feed
            feed.task = asyncio.ensure_future(feed.produce())
        feed.followers += 1
        try:
            seen = 0
            while True:
                try:
                    async with asyncio.timeout(heartbeat), feed.changed:
                        await feed.changed.wait_for(partial(_newer_or_closed, feed, seen))
                        snapshot = feed.latest
                except TimeoutError:
                    yield None
                    continue
                if feed.closed:
                    return
                assert snapshot is not None
                seen = snapshot.version
                yield snapshot
                if snapshot.final:
                    return
        finally:
            feed.followers -= 1
            if feed.followers == 0 and self._feeds.get(topic) is feed:
                del self._feeds[topic]
                if feed.task is not None and not feed.task.done():
                    feed.task.cancel()

    def followers(self, topic: str) -> int:
        """How many follow ``topic`` now."""
        feed = self._feeds.get(topic)
        return 0 if feed is None else feed.followers

    async def aclose(self) -> None:
        """End every follower and stop every producer (the server is stopping)."""
        self._closed = True
        feeds = list(self._feeds.values())
        self._feeds.clear()
        for feed in feeds:
            async with feed.changed:
                feed.closed = True
                feed.changed.notify_all()
        tasks = [f.task for f in feeds if f.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
