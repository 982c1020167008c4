"""The classes of transfer failure that the retry policy and the rate controller act on."""

from __future__ import annotations

from enum import StrEnum


class ErrorClass(StrEnum):
    """Why an attempt failed, as far as retrying is concerned."""

    CONNECT = "connect"
    """Connection refused, reset or dropped."""
    DNS = "dns"
    """The host name does not resolve: retried a few times quickly, then permanent."""
    READ_TIMEOUT = "read_timeout"
    """No bytes within the read timeout."""
    THROTTLED = "throttled"
    """429, or 503 with Retry-After: the server asks us to slow down."""
    SERVER = "server"
    """5xx without a throttling signal."""
    CLIENT = "client"
    """Permanent client errors such as 403, 404, 410: never retried."""
    INTEGRITY = "integrity"
    """Size, checksum or Content-Range mismatch: re-fetched."""
    DISK = "disk"
    """Local write failure."""
    CHANGED = "changed"
    """The remote file changed under us: restart from byte 0."""
    LEASE_EXPIRED = "lease_expired"
    """The worker holding the file stopped renewing its lease (died or hung)."""
