"""The chunk transport over NATS JetStream (nats-py): the ``ChunkTransport`` of a NATS URL.

Rules:
- One stream per ``--stream NAME``, holding the subjects ``{NAME}.files.>`` on disk, with
  a duplicate window in which the server drops a second publish of a ``Nats-Msg-Id``.
  ``ensure_stream`` is idempotent: it creates the stream, or keeps an existing one
  whose subjects are ours (its other settings stay the operator's); a stream of that
  name holding other subjects is refused.
- A group is a durable pull consumer of the whole stream, explicit acks, with the
  ``ConsumerSettings``' ack wait, delivery limit and pending limit; receivers of one
  group share its chunks. An existing group keeps the settings it was created with.
- ``replay`` reads one file's subject through a short-lived consumer of its own (no
  acks, deleted afterwards), so it touches no group's progress.
- Every wait is bounded: connecting (a TCP probe first, so an unreachable broker fails
  at once with the system's reason, not after nats-py's reconnect loop), publishing,
  consumer calls (the JetStream context's timeout), fetching (the caller's timeout; a
  timeout is an empty batch) and closing.
- nats-py's exceptions become skyhaul's here (``_map_nats_errors``) and nowhere else:
  ``BrokerUnavailableError`` while connecting or setting up the stream,
  ``BrokerError`` afterwards. Cancellation passes through untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    StorageType,
    StreamConfig,
)

from skyhaul.core.redact import redact_url
from skyhaul.core.streamchunks import check_name, stream_subjects
from skyhaul.errors import BrokerError, BrokerUnavailableError, SkyhaulError
from skyhaul.ports.chunks import (
    ChunkTransport,
    ConsumerSettings,
    Delivery,
    PublishReceipt,
    StoredChunk,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 4222
#: URL schemes nats-py connects with.
_SCHEMES = {"nats", "tls"}
#: The NATS error code of "stream name already in use with a different configuration".
_STREAM_NAME_IN_USE = 10058
#: How many chunks a replay asks for at once.
_REPLAY_BATCH = 64


@dataclass(frozen=True, slots=True)
class NatsSettings:
    """How the adapter talks to the server.

    Parameters
    ----------
    timeout : float
        Seconds any one call waits at most (connect, publish, a JetStream API call).
    duplicate_window : float
        Seconds during which the server drops a repeated message id (for a new stream).
    max_reconnect_attempts : int
        How often a live connection is re-established after the server went away.
    """

    timeout: float = 5.0
    duplicate_window: float = 120.0
    max_reconnect_attempts: int = 30


@contextlib.contextmanager
def _map_nats_errors(doing: str, kind: type[SkyhaulError] = BrokerError) -> Iterator[None]:
    """Raise ``kind`` (one line: ``doing`` and the reason) for any nats-py or OS error."""
    try:
        yield
    except SkyhaulError:
        raise
    except nats.errors.NoRespondersError:
        raise kind(f"{doing}: JetStream did not answer (is it enabled?)") from None
    except (nats.errors.TimeoutError, TimeoutError):
        raise kind(f"{doing}: timed out") from None
    except nats.js.errors.APIError as exc:
        raise kind(f"{doing}: {exc.description or exc} (code {exc.err_code})") from None
    except (nats.errors.Error, OSError) as exc:
        raise kind(f"{doing}: {exc or type(exc).__name__}") from None


async def _probe(host: str, port: int) -> None:
    """Open and close one TCP connection, so an unreachable broker fails at once."""
    _reader, writer = await asyncio.open_connection(host, port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


class NatsChunkTransport:
    """The ``ChunkTransport`` of one JetStream stream.

    Open it with :meth:`connect`; close it with :meth:`close`.
    """

    def __init__(
        self, client: Client, js: JetStreamContext, stream: str, settings: NatsSettings
    ) -> None:
        self._client = client
        self._js = js
        self.stream = stream
        self.settings = settings

    @classmethod
    async def connect(
        cls, url: str, stream: str, settings: NatsSettings | None = None
    ) -> NatsChunkTransport:
        """Connect to the server at ``url`` for the stream named ``stream``.

        Parameters
        ----------
        url : str
            ``nats://HOST[:PORT]`` (or ``tls://``).
        stream : str
            The stream's name (letters, digits, ``_``, ``-``).
        settings : NatsSettings, optional
            Timeouts and windows; the defaults otherwise.

        Raises
        ------
        BrokerUnavailableError
            When the URL is not a NATS URL or the server cannot be reached in time.
        UsageError
            When ``stream`` is not a valid name.
        """
        settings = settings or NatsSettings()
        check_name("stream", stream)
        shown = redact_url(url)
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES or not parts.hostname:
            raise BrokerUnavailableError(f"not a NATS URL: {shown} (use nats://HOST:PORT)")
        doing = f"cannot reach the broker at {shown}"
        with _map_nats_errors(doing, BrokerUnavailableError):
            async with asyncio.timeout(settings.timeout):
                await _probe(parts.hostname, parts.port or DEFAULT_PORT)
            client = await asyncio.wait_for(
                nats.connect(
                    url,
                    connect_timeout=settings.timeout,
                    max_reconnect_attempts=settings.max_reconnect_attempts,
                    error_cb=_log_error,
                ),
                settings.timeout * 2,
            )
        return cls(client, client.jetstream(timeout=settings.timeout), stream, settings)

    @property
    def max_message_bytes(self) -> int:
        """The largest message the server accepts (its ``max_payload``)."""
        return self._client.max_payload

    async def ensure_stream(self) -> None:
        """Create the stream, or keep the existing one if its subjects are ours.

        Raises
        ------
        BrokerUnavailableError
            When JetStream is off, or a stream of this name holds other subjects.
        """
        subjects = stream_subjects(self.stream)
        config = StreamConfig(
            name=self.stream,
            subjects=[subjects],
            storage=StorageType.FILE,
            duplicate_window=self.settings.duplicate_window,
        )
        doing = f"cannot set up stream {self.stream}"
        with _map_nats_errors(doing, BrokerUnavailableError):
            try:
                await self._js.add_stream(config)
            except nats.js.errors.BadRequestError as exc:
                if exc.err_code != _STREAM_NAME_IN_USE:
                    raise
                held = (await self._js.stream_info(self.stream)).config.subjects or []
                if subjects not in held:
                    raise BrokerUnavailableError(
                        f"{doing}: it exists with subjects {held}, not {subjects}"
                    ) from None

    async def delete_stream(self) -> None:
        """Delete the stream and every chunk in it (tests and operators only)."""
        with _map_nats_errors(f"cannot delete stream {self.stream}"):
            await self._js.delete_stream(self.stream)

    async def publish(
        self, file_key: str, headers: Mapping[str, str], data: bytes, message_id: str
    ) -> PublishReceipt:
        """Publish one chunk on its file's subject and wait for the server's receipt.

        Raises
        ------
        BrokerError
            When the server does not store it in time, or refuses it.
        """
        subject = f"{self.stream}.files.{file_key}"
        with _map_nats_errors(f"cannot publish {message_id} to stream {self.stream}"):
            ack = await self._js.publish(
                subject,
                data,
                timeout=self.settings.timeout,
                stream=self.stream,
                headers={**headers, "Nats-Msg-Id": message_id},
            )
        return PublishReceipt(sequence=ack.seq, duplicate=bool(ack.duplicate))

    async def consumer(self, group: str, settings: ConsumerSettings) -> NatsChunkConsumer:
        """Open (creating it the first time) the durable pull consumer of ``group``.

        Raises
        ------
        UsageError
            When ``group`` is not a valid name.
        BrokerError
            When the server will not create or bind it.
        """
        check_name("consumer group", group)
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=settings.ack_wait,
            max_deliver=settings.max_deliver,
            max_ack_pending=settings.max_ack_pending,
        )
        with _map_nats_errors(f"cannot open consumer group {group} of stream {self.stream}"):
            subscription = await self._js.pull_subscribe(
                stream_subjects(self.stream), durable=group, stream=self.stream, config=config
            )
        return NatsChunkConsumer(subscription, group)

    async def replay(self, file_key: str) -> AsyncIterator[StoredChunk]:
        """Yield every chunk stored on one file's subject, oldest first.

        Use it under ``contextlib.aclosing`` when it may be left early, so that its
        consumer is deleted at once.

        Raises
        ------
        BrokerError
            When the server will not create the replay's consumer or stops answering.
        """
        subject = f"{self.stream}.files.{file_key}"
        config = ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.ALL,
            inactive_threshold=max(self.settings.timeout * 4, 10.0),
            mem_storage=True,
        )
        doing = f"cannot replay {subject}"
        with _map_nats_errors(doing):
            subscription = await self._js.pull_subscribe(subject, stream=self.stream, config=config)
            info = await subscription.consumer_info()
        try:
            remaining = info.num_pending or 0
            while remaining > 0:
                with _map_nats_errors(doing):
                    try:
                        batch = await subscription.fetch(
                            min(remaining, _REPLAY_BATCH), timeout=self.settings.timeout
                        )
                    except TimeoutError:  # nats-py raises its own or asyncio's
                        return  # what remained was removed from the stream meanwhile
                for msg in batch[:remaining]:
                    yield _stored(msg)
                remaining -= len(batch)
        finally:
            # Best effort: the consumer also expires on its own once inactive, and an
            # error here must not hide the one that ended the replay.
            with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
                await subscription.unsubscribe()
                await self._js.delete_consumer(self.stream, info.name)

    async def close(self) -> None:
        """Flush what was sent (acknowledgements included) and close, within the timeout."""
        with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
            await self._client.flush(timeout=max(1, round(self.settings.timeout)))
        with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
            await asyncio.wait_for(self._client.close(), self.settings.timeout)


class NatsChunkConsumer:
    """A durable pull consumer: ``fetch`` batches of deliveries, then close."""

    def __init__(self, subscription: JetStreamContext.PullSubscription, group: str) -> None:
        self._subscription = subscription
        self.group = group

    async def fetch(self, batch: int, max_wait: float) -> list[Delivery]:
        """Return up to ``batch`` deliveries, or none if nothing came within ``max_wait``.

        The wait is the server's (it expires the pull request), so it is a parameter
        rather than a cancellation from outside, which would leave the request pending.

        Raises
        ------
        BrokerError
            When the server cannot be asked (connection closed, consumer deleted).
        """
        with _map_nats_errors(f"cannot fetch from consumer group {self.group}"):
            try:
                messages = await self._subscription.fetch(batch, timeout=max_wait)
            except TimeoutError:  # nats-py raises its own or asyncio's
                return []
        return [NatsDelivery(msg) for msg in messages]

    async def close(self) -> None:
        """Stop fetching; the group's durable state stays on the server."""
        with contextlib.suppress(nats.errors.Error):
            await self._subscription.unsubscribe()


class NatsDelivery:
    """One JetStream message handed to this receiver."""

    __slots__ = ("_msg", "chunk")

    def __init__(self, msg: Msg) -> None:
        self._msg = msg
        self.chunk = _stored(msg)

    @property
    def attempt(self) -> int:
        """How many times the server has delivered this message (from 1)."""
        return self._msg.metadata.num_delivered or 1

    async def ack(self) -> None:
        """Acknowledge the message (it is durable on the receiver's side)."""
        with _map_nats_errors(f"cannot acknowledge message {self.chunk.sequence}"):
            await self._msg.ack()

    async def nak(self, delay: float | None = None) -> None:
        """Refuse the message; the server delivers it again after ``delay`` seconds."""
        with _map_nats_errors(f"cannot refuse message {self.chunk.sequence}"):
            await self._msg.nak(delay=delay)

    async def in_progress(self) -> None:
        """Restart the message's acknowledgement deadline."""
        with _map_nats_errors(f"cannot extend message {self.chunk.sequence}"):
            await self._msg.in_progress()

    async def term(self) -> None:
        """Drop the message for good: it is never delivered again."""
        with _map_nats_errors(f"cannot terminate message {self.chunk.sequence}"):
            await self._msg.term()


def _stored(msg: Msg) -> StoredChunk:
    return StoredChunk(
        headers=dict(msg.headers or {}),
        data=msg.data,
        sequence=msg.metadata.sequence.stream if msg.metadata.sequence else 0,
    )


async def _log_error(error: Exception) -> None:
    # nats-py reports connection trouble here while it reconnects on its own; the calls
    # that fail because of it raise their own errors.
    log.warning("NATS: %s", error or type(error).__name__)


async def open_chunk_transport(
    url: str, stream: str, settings: NatsSettings | None = None
) -> ChunkTransport:
    """Connect the ``ChunkTransport`` of ``url`` (NATS JetStream, the one broker so far).

    The services open their transport here, so that another broker's adapter plugs in
    by its URL scheme without them changing.
    """
    return await NatsChunkTransport.connect(url, stream, settings)
