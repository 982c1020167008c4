"""``skyhaul sim`` (or another serving command) as a child process, for the benchmarks that
need the archive simulator or the web view.

Rules:
- The server runs as a child (``skyhaul sim``, ``skyhaul serve``: the current tree's), in a
  session of its own, so on a 2-core machine it has an interpreter of its own, and the
  harness ends it (SIGTERM, its clean shutdown) when the ``with`` block is left.
- Its base URL is read from ``--url-file`` (written atomically once it listens).
- Faults are set through its control plane, ``POST /_sim/faults``, never by restarting it;
  ``configure`` starts from the defaults (``"reset": true``), so nothing from a previous
  run lingers, and reseeds the generator: the same knobs, the same seed and the same
  sequence of requests give the same faults.
- ``/_sim/`` is never faulted nor counted, so polling it does not change the counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from benchmarks.procs import last_line, stop

__all__ = ["ChildServer", "SimProcess", "skyhaul_script"]

START_TIMEOUT_S = 600.0  # a large archive is written to its cache first
_STOP_TIMEOUT_S = 10.0
_HTTP_TIMEOUT_S = 30.0


def skyhaul_script() -> str:
    """The ``skyhaul`` script of the harness's venv (the current tree's skyhaul)."""
    return str(Path(sys.executable).parent / "skyhaul")


class ChildServer:
    """``skyhaul COMMAND ARGS`` as a child, for the life of a ``with`` block (``COMMAND``:
    the class's ``command``).

    Parameters
    ----------
    scratch : Path
        Where its URL file and log go.
    args : sequence of str
        Its options; ``--url-file`` is added.
    start_timeout : float
        Seconds to wait for it to listen (the simulator writes a new archive's files first).
    """

    command = ""

    def __init__(
        self, scratch: Path, args: Sequence[str], *, start_timeout: float = START_TIMEOUT_S
    ) -> None:
        self._scratch = scratch
        self._args = list(args)
        self._start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.base_url = ""

    def __enter__(self) -> Self:
        self._scratch.mkdir(parents=True, exist_ok=True)
        url_file = self._scratch / f"{self.command}.url"
        url_file.unlink(missing_ok=True)
        argv = [skyhaul_script(), self.command, *self._args, f"--url-file={url_file}"]
        self._log = (self._scratch / f"{self.command}.log").open("wb")
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.base_url = self._wait_for(url_file)
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
            stop(self._proc, _STOP_TIMEOUT_S)  # SIGTERM: the server closes and exits
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def pid(self) -> int:
        """The child's process id (while the ``with`` block runs)."""
        assert self._proc is not None
        return self._proc.pid

    def get(self, path: str) -> Any:
        """``GET`` a JSON document from the server."""
        with urllib.request.urlopen(self.base_url + path, timeout=_HTTP_TIMEOUT_S) as answer:
            return json.load(answer)

    def post(self, path: str, body: Mapping[str, object]) -> Any:
        """``POST`` a JSON object to the server; return its JSON answer."""
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(dict(body)).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_S) as answer:
            return json.load(answer)

    def _wait_for(self, url_file: Path) -> str:
        assert self._proc is not None
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if url_file.exists():
                return url_file.read_text().strip().rstrip("/") + "/"
            if self._proc.poll() is not None:
                log = (self._scratch / f"{self.command}.log").read_text(errors="replace")
                raise RuntimeError(f"skyhaul {self.command} exited at start: {last_line(log)}")
            time.sleep(0.05)
        raise RuntimeError(
            f"skyhaul {self.command} did not listen within {self._start_timeout:.0f} s"
        )


class SimProcess(ChildServer):
    """``skyhaul sim ARGS`` as a child, for the life of a ``with`` block.

    Parameters
    ----------
    scratch : Path
        Where its URL file and log go.
    args : sequence of str
        Its options (``--files=1000``, ``--size=64KiB``, ``--root=DIR``, ...);
        ``--url-file`` is added.
    start_timeout : float
        Seconds to wait for it to listen (it writes a new archive's files first).
    """

    command = "sim"

    def configure(self, knobs: Mapping[str, object]) -> dict[str, Any]:
        """Put ``knobs`` in force over the defaults (reseeded) and reset the counters."""
        faults: dict[str, Any] = self.post("_sim/faults", {"reset": True, **knobs})
        self.post("_sim/reset-stats", {})
        return faults

    def stats(self) -> dict[str, Any]:
        """The counters since the last reset (``/_sim/stats``)."""
        document: dict[str, Any] = self.get("_sim/stats")
        return document

    def listing(self) -> list[dict[str, Any]]:
        """Every file the simulator serves (``/api/files``: url, path, size, sha256, ...)."""
        files: list[dict[str, Any]] = self.get("api/files")
        return files
