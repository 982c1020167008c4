"""``LoopbackHTTPServer``: Python's threading HTTP server, for the tests' loopback servers.

Its listen backlog is 128, not ``socketserver``'s 5: the engine opens several connections
at once, and past the backlog Linux drops the surplus connection attempts, which the
client then sends again a whole second later (a test that waits for nothing takes 1 s).
"""

from __future__ import annotations

from http.server import ThreadingHTTPServer


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server with a listen backlog of 128."""

    request_queue_size = 128
