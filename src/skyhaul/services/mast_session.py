"""Asking MAST under a cancel event: one client per question, closed after it.

Rules:
- Every interface (the CLI, ``skyhaul.Client``, the astroquery drop-in) asks MAST through
  :func:`ask_mast`: a client for the configured URL, the question, the client closed.
- The first Ctrl-C (the cancel event) stops the question at once; nothing has been
  registered by then, so it raises :class:`~skyhaul.errors.InterruptedRun` (exit 130)
  saying so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from skyhaul.adapters.mast import MastClient
from skyhaul.errors import InterruptedRun
from skyhaul.services.cancellation import until_cancelled

__all__ = ["ask_mast"]

T = TypeVar("T")


async def ask_mast(
    url: str,
    ask: Callable[[MastClient], Awaitable[T]],
    cancel: asyncio.Event,
    *,
    verify_tls: bool = True,
) -> T:
    """Return ``ask(client)`` for a client of MAST at ``url``.

    Raises
    ------
    InterruptedRun
        ``cancel`` was set first.
    """
    client = MastClient(url, verify_tls=verify_tls)
    try:
        answer = await until_cancelled(ask(client), cancel)
    finally:
        await client.aclose()
    if answer is None:
        raise InterruptedRun("interrupted while asking MAST; nothing was registered")
    return answer
