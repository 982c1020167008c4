"""One file's transfer, as a short pipeline of small steps (see :mod:`.transfer`).

- :mod:`.transfer`: the pipeline, and the requests whose answers ``core.resume`` judges;
- :mod:`.sources`: a file's sources (its URL and mirrors) and moving between them;
- :mod:`.writer`: batched writes into the sink, off the event loop when large;
- :mod:`.hashing`: the in-order hash of bytes written out of order;
- :mod:`.checkpoint`: which written bytes are durable, recorded in the segment map.
"""

from __future__ import annotations

from skyhaul.services.transfer.transfer import FileTransfer, TransferRun

__all__ = ["FileTransfer", "TransferRun"]
