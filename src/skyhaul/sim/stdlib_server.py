"""Python's own ``http.server`` in a thread: a baseline server that ignores ``Range``.

Rules:
- It serves a directory as ``SimpleHTTPRequestHandler`` does: every GET is a 200 with
  the whole file (no ranges, no ETag), which is what many small archives really do.
- It listens on 127.0.0.1 (port 0 picks a free one) and logs nothing.
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class StdlibServerThread:
    """Serve ``directory`` with ``http.server`` in a background thread.

    Parameters
    ----------
    directory : str or Path
        The directory to serve.
    host : str, optional
        Address to listen on.
    port : int, optional
        Port to listen on; 0 picks a free one.

    Attributes
    ----------
    base_url : str
        ``http://HOST:PORT/``, with a trailing slash; valid inside the ``with`` block.
    """

    def __init__(self, directory: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = functools.partial(_QuietHandler, directory=str(directory))
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def __enter__(self) -> StdlibServerThread:
        server = ThreadingHTTPServer(self._address, self._handler)
        server.daemon_threads = True
        bound_host, bound_port = server.server_address[:2]
        self.base_url = f"http://{bound_host!s}:{bound_port}/"
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # so that leaving the block is quick
            name="skyhaul-stdlib-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None
