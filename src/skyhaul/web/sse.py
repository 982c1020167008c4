"""Server-Sent Events: a followed topic as a ``text/event-stream`` answer.

Rules:
- Each version of the document is one ``event: <name>`` with ``id: <version>`` and the
  JSON on one ``data:`` line; the final version is followed by ``event: end``, after which
  the page closes its EventSource (else the browser would reconnect by itself).
- A comment line goes out every ``heartbeat`` seconds without news, so proxies keep the
  connection and a dead browser is noticed.
- Nothing buffers it: ``Cache-Control: no-cache`` and ``X-Accel-Buffering: no``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

from skyhaul.web.feeds import Snapshot

__all__ = ["HEARTBEAT", "event_stream"]

#: Seconds between keep-alive comments on a quiet stream.
HEARTBEAT = 15.0


def event_stream(snapshots: AsyncIterator[Snapshot | None], event: str) -> StreamingResponse:
    """Stream ``snapshots`` (None: a keep-alive) as events named ``event``."""

    async def lines() -> AsyncIterator[bytes]:
        yield b"retry: 1000\n\n"
        async for snapshot in snapshots:
            if snapshot is None:
                yield b": keep-alive\n\n"
                continue
            yield f"id: {snapshot.version}\nevent: {event}\ndata: {snapshot.text}\n\n".encode()
            if snapshot.final:
                yield b"event: end\ndata: {}\n\n"

    return StreamingResponse(
        lines(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
