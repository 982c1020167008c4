"""Moving one object between two locations: streamed, resumable, hashed when whole.

Rules:
- The bytes go source → destination in chunks; nothing is held whole.
- A destination left half-written by a killed copy is resumed where its durable bytes
  end (``writer(resume=True)``: a local part file, an S3 upload's parts): only the rest
  is read from the source.
- The sha256 of what was moved is returned when the copy ran whole in this call; after a
  resume it is None, and the package's verification at the destination (which reads every
  byte there) is what proves it. A caller whose next step reads the destination whole
  can skip the hashing (``hashed=False``).
- ``expected_sha256`` (when the copy ran whole) must match, or the destination is aborted
  and ``IntegrityError`` raised: a copy whose bytes differ never takes its final name.
  Any other failure (the source or the network) suspends the destination: what is durable
  stays for the next attempt.
- The writer is synced every ``sync_every`` bytes, so a kill loses little.
- ``pace`` (optional) is awaited after each chunk with its size: a rate limit waits there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from skyhaul.errors import IntegrityError
from skyhaul.ports.locations import LocationStorage

__all__ = ["Moved", "move_object"]

#: Bytes between two syncs of a destination being written.
SYNC_EVERY = 64 << 20


@dataclass(frozen=True, slots=True)
class Moved:
    """What a move did.

    Parameters
    ----------
    size : int
        Size of the object at the destination.
    sha256 : str or None
        Its sha256, when this call moved every byte (None after a resume).
    resumed_from : int
        Bytes already at the destination when this call began.
    """

    size: int
    sha256: str | None
    resumed_from: int


async def move_object(
    source: LocationStorage,
    source_path: str,
    dest: LocationStorage,
    dest_path: str,
    *,
    expected_sha256: str | None = None,
    hashed: bool = True,
    sync_every: int = SYNC_EVERY,
    pace: Callable[[int], Awaitable[None]] | None = None,
) -> Moved:
    """Copy ``source_path`` of ``source`` to ``dest_path`` of ``dest``.

    ``hashed=False`` moves the bytes without hashing them (``sha256`` is None): for a
    move whose destination is read whole and checked next anyway (a package's transfer
    to an archive, which its verification reads), one pass of sha256 less.

    Raises
    ------
    IntegrityError
        The bytes moved do not have ``expected_sha256``, or the source changed size.
    """
    writer = await dest.writer(dest_path, resume=True)
    try:
        offset = writer.resume_offset()
        digest = hashlib.sha256() if offset == 0 and hashed else None
        unsynced = 0
        async for chunk in source.open_read(source_path, offset):
            await writer.write(chunk)
            if digest is not None:
                digest.update(chunk)
            unsynced += len(chunk)
            if unsynced >= sync_every:
                await writer.sync()
                unsynced = 0
            if pace is not None:
                await pace(len(chunk))
        sha256 = None if digest is None else digest.hexdigest()
        if sha256 is not None and expected_sha256 is not None and sha256 != expected_sha256:
            raise IntegrityError(
                f"{source_path}: moved bytes have sha256 {sha256}, not {expected_sha256}"
            )
        info = await writer.commit()
    except IntegrityError:
        await writer.abort()  # wrong bytes: nothing of them is worth resuming from
        raise
    except BaseException:
        await writer.suspend()  # what is durable stays for the next attempt
        raise
    return Moved(info.size, sha256, offset)
