"""The live topics' hub (web.feeds): closing it ends every follower, even one waiting
for news on a quiet topic, so a stopping server is not held by open event streams."""

from __future__ import annotations

import asyncio

from skyhaul.web.feeds import FeedHub, Snapshot


async def _document() -> dict[str, int]:
    return {"jobs": 0}


async def test_closing_the_hub_ends_a_follower_waiting_for_news() -> None:
    hub = FeedHub()
    seen: list[Snapshot | None] = []
    first = asyncio.Event()

    async def follow() -> None:
        async for snapshot in hub.follow("jobs", _document, interval=lambda: 0.01):
            seen.append(snapshot)
            first.set()

    following = asyncio.ensure_future(follow())
    async with asyncio.timeout(5):
        await first.wait()
        await hub.aclose()
        await following  # ends: the document never changes, the hub closed
    assert [s.text for s in seen if s is not None] == ['{"jobs":0}']
    assert hub.followers("jobs") == 0
    later = [s async for s in hub.follow("jobs", _document, interval=lambda: 0.01)]
    assert later == []
