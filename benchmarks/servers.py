"""The one loopback HTTP server every client downloads from: nginx, run by the harness.

Rules:
- The harness writes its own ``nginx.conf`` into a temporary directory (pid, logs and temp
  paths there), runs ``nginx`` in the foreground as a child and always ends it
  (``with NginxServer(...)``). It listens on 127.0.0.1 only.
- ``/files/`` is served as fast as nginx can (sendfile, long keep-alive).
- ``/limited/`` allows 20 requests/s with a burst of 5 per client address and answers 429,
  without Retry-After, past it (nginx ``limit_req``, like many archives). Its access log
  holds one status per line, so the harness counts requests and refusals per run.
- ``/paced/`` serves the files of ``/files/`` at ``PACED_RATE`` bytes/s per request
  (nginx ``limit_rate``), so that a run can be killed part-way at a chosen point (scenario
  k); its access log holds the body bytes sent for each request and its path, logged when
  the request ends, cut short or not, so the harness adds up what the server sent during
  a run, in all and per file.
- One worker process: on a 2-core machine the client under test keeps the other core.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from benchmarks.procs import stop

__all__ = ["LIMIT_BURST", "LIMIT_RATE", "PACED_RATE", "NginxServer", "RequestCount"]

#: Requests per second ``/limited/`` allows, and the burst it lets through at once.
LIMIT_RATE = 20
LIMIT_BURST = 5
#: Bytes per second ``/paced/`` sends on each request (nginx ``limit_rate``).
PACED_RATE = 16 << 20

_START_TIMEOUT = 15.0
_STOP_TIMEOUT = 10.0

_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    types {{ application/octet-stream bin; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000;
    keepalive_timeout 75s;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    log_format status_only '$status';
    log_format sent_uri '$body_bytes_sent $uri';
    limit_req_zone $binary_remote_addr zone=z:1m rate={rate}r/s;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        server_name localhost;
        root {root};
        location /files/ {{
        }}
        location /limited/ {{
            limit_req zone=z burst={burst} nodelay;
            limit_req_status 429;
            access_log {tmp}/limited.log status_only;
        }}
        location /paced/ {{
            alias {root}/files/;
            limit_rate {paced};
            access_log {tmp}/paced.log sent_uri;
        }}
    }}
}}
"""


@dataclass(frozen=True, slots=True)
class RequestCount:
    """Requests ``/limited/`` answered in some interval, and how many were refused (429)."""

    requests: int
    refused: int

    @property
    def refused_share(self) -> float:
        """Refused requests over all requests (0 when there were none)."""
        return self.refused / self.requests if self.requests else 0.0


class NginxServer:
    """nginx serving ``root`` on a free loopback port for the life of a ``with`` block.

    Parameters
    ----------
    nginx : str
        Path of the nginx executable.
    root : Path
        Document root (``files/`` and ``limited/`` below it).
    """

    def __init__(self, nginx: str, root: Path) -> None:
        self._nginx = nginx
        self._root = root
        self._tmp = Path(tempfile.mkdtemp(prefix="skyhaul-bench-nginx-"))
        self._tmp.chmod(0o755)  # workers drop root; they must reach the temp paths
        self._port = _free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: BinaryIO | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def limited_log(self) -> Path:
        """The access log of ``/limited/`` (one status code per line)."""
        return self._tmp / "limited.log"

    def __enter__(self) -> NginxServer:
        conf = self._tmp / "nginx.conf"
        conf.write_text(
            _CONF.format(
                tmp=self._tmp,
                port=self._port,
                root=self._root,
                rate=LIMIT_RATE,
                burst=LIMIT_BURST,
                paced=PACED_RATE,
            )
        )
        self._root.mkdir(parents=True, exist_ok=True)
        error_log = self._tmp / "error.log"
        argv = [self._nginx, "-p", str(self._tmp), "-c", str(conf), "-e", str(error_log)]
        self._stderr = (self._tmp / "stderr.log").open("wb")
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            stop(self._proc, _STOP_TIMEOUT)  # SIGTERM: nginx's fast shutdown
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def limited_mark(self) -> int:
        """Return a position in the ``/limited/`` access log (pass it to ``limited_since``)."""
        try:
            return self.limited_log.stat().st_size
        except FileNotFoundError:
            return 0

    def limited_since(self, mark: int) -> RequestCount:
        """Count ``/limited/`` requests and 429s logged after ``mark``."""
        try:
            with self.limited_log.open("rb") as handle:
                handle.seek(mark)
                statuses = handle.read().split()
        except FileNotFoundError:
            return RequestCount(0, 0)
        return RequestCount(len(statuses), sum(1 for s in statuses if s == b"429"))

    @property
    def paced_log(self) -> Path:
        """The access log of ``/paced/`` (body bytes sent and path, one request per line)."""
        return self._tmp / "paced.log"

    def paced_mark(self) -> int:
        """Return a position in the ``/paced/`` access log (pass it to ``paced_sent_since``)."""
        try:
            return self.paced_log.stat().st_size
        except FileNotFoundError:
            return 0

    def paced_sent_since(self, mark: int) -> int:
        """Body bytes ``/paced/`` sent in the requests logged after ``mark``."""
        return sum(self.paced_sent_by_path(mark).values())

    def paced_sent_by_path(self, mark: int) -> dict[str, int]:
        """Body bytes ``/paced/`` sent per URL path in the requests logged after ``mark``."""
        sent: dict[str, int] = {}
        try:
            with self.paced_log.open("rb") as handle:
                handle.seek(mark)
                lines = handle.read().decode(errors="replace").splitlines()
        except FileNotFoundError:
            return sent
        for line in lines:
            size, _, path = line.partition(" ")
            sent[path] = sent.get(path, 0) + int(size)
        return sent

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"nginx exited at start: {self._errors()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=1.0)
                conn.request("HEAD", "/")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not answer within {_START_TIMEOUT:.0f} s: {self._errors()}")

    def _errors(self) -> str:
        text = ""
        for name in ("stderr.log", "error.log"):
            path = self._tmp / name
            if path.exists():
                text += path.read_text(errors="replace")
        return text.strip()[-2000:] or "(no output)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
