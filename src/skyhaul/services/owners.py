"""Who holds a lease: an owner id per run, and whether its process still exists.

Rules:
- An owner id is ``host:pid:random``: unique per run, and it says where to look for the
  process that holds a file's or a job's lease.
- Only this host's owners can be checked (``os.kill(pid, 0)``); others wait for their
  lease to expire.
"""

from __future__ import annotations

import os
import socket
import uuid

__all__ = ["new_owner", "owner_is_dead_here"]


def new_owner() -> str:
    """A lease owner id: host, process and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead_here(owner: str) -> bool:
    """True when ``owner`` names a process of this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
