"""Stopping async work when the user asks: a cancel event set by a signal or an API caller.

Rules:
- The work is cancelled, not abandoned: its ``finally`` blocks run (leases released,
  progress recorded) before :func:`until_cancelled` returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["until_cancelled"]

T = TypeVar("T")


async def until_cancelled(work: Awaitable[T], cancel: asyncio.Event) -> T | None:
    """Await ``work`` unless ``cancel`` is set first (then cancel it and return None)."""
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait([task, stop], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if task.done():
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return None
