"""The chunk transport seam: how files' chunks travel through a message broker.

Rules:
- A broker adapter implements :class:`ChunkTransport`: publish one chunk (headers, bytes,
  message id) under its file's key; open a durable, shared consumer of a group; replay
  one file's chunks alone; close. NATS JetStream implements it
  (:mod:`skyhaul.adapters.nats_chunks`); a Kafka adapter would plug in the same way:

  - the file key (``core.streamchunks.file_token``) is the NATS subject's last token, and
    would be the Kafka record key (one file's chunks in one partition, in order);
  - the message id is ``Nats-Msg-Id`` (the server drops a repeat within its duplicate
    window); on Kafka, an idempotent producer plus the receiver's chunk map (which drops
    a chunk already written) give the same effect;
  - ``ack``/``nak(delay)``/``in_progress`` are JetStream's per-message acknowledgements;
    on Kafka a receiver would commit an offset only below its lowest unacknowledged
    chunk and re-seek to a refused one after the delay;
  - ``replay`` reads one file's chunks from the start of the stream (a subject filter;
    on Kafka, a scan of the key's partition).
- Deliveries are at least once: a receiver must tolerate a chunk twice (after a restart,
  an ack lost, a redelivery) and in any order; the chunk map and the generation policy
  (``core.generations``) make that harmless.
- Every wait is bounded: each call has a timeout, and ``fetch`` returns an empty batch
  when nothing came within its ``max_wait``, rather than raising.
- An adapter raises only skyhaul errors: ``BrokerUnavailableError`` when the broker cannot
  be reached or its stream set up, ``BrokerError`` when one operation fails on a live
  connection. Its library's exceptions are mapped inside the adapter.
- The headers are plain text (``dict[str, str]``): the layout is ``core.streamchunks``'s,
  and the transport neither reads nor checks them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PublishReceipt:
    """The broker's answer to a publish, once it has stored the chunk durably.

    Parameters
    ----------
    sequence : int
        Where the broker stored it (a JetStream stream sequence, a Kafka offset).
    duplicate : bool
        The broker had this message id already and dropped this copy.
    """

    sequence: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    """How a durable consumer hands out chunks.

    Parameters
    ----------
    ack_wait : float
        Seconds a delivered chunk may stay unacknowledged before it is delivered again
        (``in_progress`` restarts the count).
    max_deliver : int
        How many times a chunk is delivered at most; past it the broker gives up on it.
    max_ack_pending : int
        How many chunks may be out unacknowledged at once, over all receivers of a group.
    """

    ack_wait: float = 30.0
    max_deliver: int = 20
    max_ack_pending: int = 1024


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """One message as the broker holds it: its headers, bytes and stream position."""

    headers: Mapping[str, str]
    data: bytes
    sequence: int


class Delivery(Protocol):
    """A chunk handed to one receiver of a group, awaiting its verdict."""

    @property
    def chunk(self) -> StoredChunk:
        """The message delivered."""

    @property
    def attempt(self) -> int:
        """How many times this message has been delivered, this time included (from 1)."""

    async def ack(self) -> None:
        """Acknowledge it: it is durable on the receiver's side and never comes again."""

    async def nak(self, delay: float | None = None) -> None:
        """Refuse it: deliver it again, after ``delay`` seconds when given."""

    async def in_progress(self) -> None:
        """Tell the broker it is still being worked on (restart its ack deadline)."""

    async def term(self) -> None:
        """Drop it for good: no receiver can ever use it (its headers are malformed)."""


class ChunkConsumer(Protocol):
    """A durable consumer: receivers opening the same group share its chunks."""

    async def fetch(self, batch: int, max_wait: float) -> list[Delivery]:
        """Return up to ``batch`` deliveries, waiting at most ``max_wait`` seconds.

        An empty list means nothing arrived in time; it is not an error. The broker
        holds the wait (a pull request that expires), so it is a parameter.
        """

    async def close(self) -> None:
        """Stop receiving; the group's durable state stays on the broker."""


class ChunkTransport(Protocol):
    """One stream of files' chunks on one broker."""

    @property
    def max_message_bytes(self) -> int:
        """The largest message (headers and bytes) the broker accepts."""

    async def ensure_stream(self) -> None:
        """Create the stream if it does not exist; an existing one is kept as it is."""

    async def publish(
        self, file_key: str, headers: Mapping[str, str], data: bytes, message_id: str
    ) -> PublishReceipt:
        """Store one chunk durably under its file's key; return once the broker has it."""

    async def consumer(self, group: str, settings: ConsumerSettings) -> ChunkConsumer:
        """Open (creating it the first time) the durable consumer of ``group``."""

    def replay(self, file_key: str) -> AsyncIterator[StoredChunk]:
        """Yield every chunk the stream holds under ``file_key``, oldest first.

        Independent of any group's progress and acknowledgements; it ends at the last
        chunk stored when it began.
        """

    async def close(self) -> None:
        """Flush what was sent and close the connection."""
