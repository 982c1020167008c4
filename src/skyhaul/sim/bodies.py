"""Sending a file's bytes: ``sendfile`` on the clean path, chunked streaming with faults.

Rules:
- A clean body (no knob touches it) goes out with ``loop.sendfile`` (the kernel copies
  page cache to socket), falling back to chunked reads only where the transport cannot.
- A mangled body is read in chunks (off the event loop, from a file; or from any reader,
  as the S3 fault proxy's upstream, :func:`send_planned`) and written one chunk at a time:
  paced by a :class:`skyhaul.sim.throttle.Pacer`, with bytes inverted at the planned
  offsets, and cut short at ``drop_after`` by closing the connection (after the bytes
  already written are flushed), so the client sees fewer bytes than Content-Length
  (or, for a body sent chunked without a length, no last chunk).
- A client going away mid-body is normal: the error is swallowed and the bytes already
  handed over are counted.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import BinaryIO

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from skyhaul.sim._range import ByteSpan
from skyhaul.sim.decisions import BodyPlan
from skyhaul.sim.throttle import Pacer

_CHUNK = 256 * 1024
# A paced body is written in chunks of about 1/32 s of its bandwidth: smooth at a slow
# archive's rate (64 KiB at 2 MiB/s), and few enough writes at a fast one (1 MiB at
# 32 MiB/s and above) that sixteen paced connections do not bind the simulator's CPU.
_PACED_CHUNKS_PER_SECOND = 32
_PACED_CHUNK_MAX = 1024 * 1024
_PACED_CHUNK_MIN = 1024

OnSent = Callable[[int], None]
"""Called with the number of body bytes handed to the connection."""

ReadChunk = Callable[[int], Awaitable[bytes]]
"""``await read(n)``: the next bytes of a body, at most ``n`` (never empty before its end)."""


class SendfileResponse(web.StreamResponse):
    """A response whose body is ``span`` of the file at ``disk_path``, sent by ``sendfile``.

    Parameters
    ----------
    disk_path : Path
        The file.
    span : ByteSpan
        The bytes to send.
    status : int
        200 or 206.
    headers : dict of str to str
        Response headers; Content-Length is set from ``span``.
    on_sent : callable
        Told how many body bytes went out.
    """

    def __init__(
        self,
        disk_path: Path,
        span: ByteSpan,
        *,
        status: int,
        headers: dict[str, str],
        on_sent: OnSent,
    ) -> None:
        super().__init__(status=status, headers=headers)
        self.content_length = span.length
        self._disk_path = disk_path
        self._span = span
        self._on_sent = on_sent

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        """Send the headers, then the body with ``sendfile``."""
        if self.prepared:
            return await super().prepare(request)
        writer = await super().prepare(request)
        if request.method == "HEAD" or self._span.length == 0:
            return writer
        loop = asyncio.get_running_loop()
        source = await loop.run_in_executor(None, self._disk_path.open, "rb")
        try:
            transport = request.transport
            if transport is None:
                raise ConnectionResetError("connection lost before the body")
            try:
                await loop.sendfile(transport, source, self._span.start, self._span.length)
                self._on_sent(self._span.length)
            except NotImplementedError:
                await _copy_chunks(self, source, self._span, self._on_sent)
        finally:
            await loop.run_in_executor(None, source.close)
        await self.write_eof()
        return writer


async def send_mangled(
    request: web.Request,
    response: web.StreamResponse,
    disk_path: Path,
    span: ByteSpan,
    plan: BodyPlan,
    on_sent: OnSent,
    *,
    announce_length: bool = True,
) -> web.StreamResponse:
    """Send ``span`` of a file through ``response`` as ``plan`` says, and return it.

    Parameters
    ----------
    request : aiohttp.web.Request
        The request being answered.
    response : aiohttp.web.StreamResponse
        The response, not yet prepared, with status and headers set.
    disk_path : Path
        The file.
    span : ByteSpan
        The bytes the response announces.
    plan : BodyPlan
        Pacing, corruption and drop point.
    on_sent : callable
        Told how many body bytes went out, chunk by chunk.
    announce_length : bool, optional
        Send ``Content-Length``; if False, the body goes out chunked, without a length.

    Returns
    -------
    aiohttp.web.StreamResponse
        The response, finished (or with its connection closed).
    """
    loop = asyncio.get_running_loop()
    fd = await loop.run_in_executor(None, os.open, disk_path, os.O_RDONLY)
    offset = span.start

    async def read(n: int) -> bytes:
        nonlocal offset
        chunk = await loop.run_in_executor(None, os.pread, fd, n, offset)
        if not chunk:
            raise OSError(f"{disk_path} shrank while being sent")
        offset += len(chunk)
        return chunk

    try:
        return await send_planned(
            request, response, read, span.length, plan, on_sent, announce_length=announce_length
        )
    finally:
        os.close(fd)


async def send_planned(
    request: web.Request,
    response: web.StreamResponse,
    read: ReadChunk,
    length: int,
    plan: BodyPlan,
    on_sent: OnSent,
    *,
    announce_length: bool = True,
) -> web.StreamResponse:
    """Send a ``length``-byte body, taken from ``read``, through ``response`` as ``plan`` says.

    Parameters
    ----------
    request : aiohttp.web.Request
        The request being answered.
    response : aiohttp.web.StreamResponse
        The response, not yet prepared, with status and headers set.
    read : callable
        ``await read(n)`` returns the body's next bytes, at most ``n`` of them.
    length : int
        Bytes of the body (its Content-Length, when announced).
    plan : BodyPlan
        Pacing, corruption and drop point.
    on_sent : callable
        Told how many body bytes went out, chunk by chunk.
    announce_length : bool, optional
        Send ``Content-Length``; if False, the body goes out chunked, without a length
        (as an archive sends a product it generates on request).

    Returns
    -------
    aiohttp.web.StreamResponse
        The response, finished (or with its connection closed).
    """
    if announce_length:
        response.content_length = length
    else:
        response.enable_chunked_encoding()
    loop = asyncio.get_running_loop()
    limit = length if plan.drop_after is None else min(plan.drop_after, length)
    chunk_size = _CHUNK
    pacer = None
    if plan.bandwidth is not None:
        per_write = plan.bandwidth // _PACED_CHUNKS_PER_SECOND
        chunk_size = max(_PACED_CHUNK_MIN, min(_PACED_CHUNK_MAX, per_write))
        pacer = Pacer(plan.bandwidth, loop.time())
    try:
        await response.prepare(request)
        sent = 0
        while sent < limit:
            chunk = await read(min(chunk_size, limit - sent))
            if not chunk:
                raise OSError(f"body source ended at {sent} of {length} bytes")
            chunk = _invert(chunk, sent, plan.corrupt_at)
            if pacer is not None:
                await asyncio.sleep(pacer.delay(len(chunk), loop.time()))
            await response.write(chunk)
            on_sent(len(chunk))
            sent += len(chunk)
        if limit < length:
            _close_connection(request)
            return response
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away
    return response


def _invert(chunk: bytes, offset: int, corrupt_at: tuple[int, ...]) -> bytes:
    hits = [at - offset for at in corrupt_at if offset <= at < offset + len(chunk)]
    if not hits:
        return chunk
    mangled = bytearray(chunk)
    for at in hits:
        mangled[at] ^= 0xFF
    return bytes(mangled)


def _close_connection(request: web.Request) -> None:
    # close() (not abort()) flushes what was written, then closes: a truncated body.
    transport = request.transport
    if transport is not None:
        transport.close()


async def _copy_chunks(
    response: web.StreamResponse, source: BinaryIO, span: ByteSpan, on_sent: OnSent
) -> None:
    loop = asyncio.get_running_loop()
    sent = 0
    while sent < span.length:
        n = min(_CHUNK, span.length - sent)
        chunk = await loop.run_in_executor(None, os.pread, source.fileno(), n, span.start + sent)
        if not chunk:
            raise OSError(f"file shrank while being sent at offset {span.start + sent}")
        await response.write(chunk)
        on_sent(len(chunk))
        sent += len(chunk)
