"""A simulator on its own event loop in a background thread, for synchronous callers.

Rules:
- ``with SimThread(config) as sim:`` returns once the server listens (or raises what
  made it fail); leaving the block stops the server and joins the thread.
- Every call that touches the server's state runs on the server's loop and waits for its
  result; reading :attr:`SimThread.stats` is safe from any thread.
- :class:`ServerThread` is that machinery for any server a coroutine starts and
  ``close()`` stops (the HTTP simulator here, its S3 side in :mod:`skyhaul.sim.s3`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import Future
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

from skyhaul.sim.archive import Archive, Slot
from skyhaul.sim.config import SimConfig
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.listing import ListedFile
from skyhaul.sim.mast.dataset import MastProduct
from skyhaul.sim.mast.files import ProductFile
from skyhaul.sim.mast.handle import RunningMast
from skyhaul.sim.mast.knobs import MastKnobs
from skyhaul.sim.server import RunningSim, start_server
from skyhaul.sim.stats import SimStats

T = TypeVar("T")


class Closable(Protocol):
    """A running server: ``await server.close()`` stops it."""

    async def close(self) -> None:
        """Stop serving."""


S = TypeVar("S", bound=Closable)


class ServerThread(Generic[S]):
    """Run the server that :meth:`_start_server` starts on an event loop of its own thread.

    Parameters
    ----------
    name : str
        Name of the thread.
    start_timeout : float
        Seconds to wait for the server to be ready.
    """

    def __init__(self, name: str, start_timeout: float) -> None:
        self._name = name
        self._start_timeout = start_timeout
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started: Future[S] = Future()

    async def _start_server(self) -> S:
        """Start the server (on the thread's loop) and return its handle."""
        raise NotImplementedError

    def start(self) -> Self:
        """Start the server thread and wait until the server is ready."""
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        self._started.result(timeout=self._start_timeout)
        return self

    def stop(self) -> None:
        """Stop the server and join its thread."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is gone if start failed
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def server(self) -> S:
        """The running server (use its coroutines through :meth:`call`)."""
        if not self._started.done():
            raise RuntimeError(f"{type(self).__name__} not started")
        return self._started.result()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60.0) -> T:
        """Run a coroutine on the server's loop and return its result."""
        if self._loop is None:
            coro.close()
            raise RuntimeError(f"{type(self).__name__} not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _on_loop(self, func: Callable[[], T]) -> T:
        async def wrapper() -> T:
            return func()

        return self.call(wrapper())

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            server = await self._start_server()
        except BaseException as exc:
            self._started.set_exception(exc)
            return
        self._started.set_result(server)
        try:
            await self._stop.wait()
        finally:
            await server.close()


class SimThread(ServerThread[RunningSim]):
    """Run a simulator in a background thread.

    Parameters
    ----------
    config : SimConfig
        What to serve.
    host : str, optional
        Address to listen on.
    port : int, optional
        Port to listen on; 0 picks a free one.
    start_timeout : float, optional
        Seconds to wait for the archive to be materialised and the server to listen.
    """

    def __init__(
        self,
        config: SimConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        start_timeout: float = 120.0,
    ) -> None:
        super().__init__("skyhaul-sim", start_timeout)
        self._config = config
        self._host = host
        self._port = port

    async def _start_server(self) -> RunningSim:
        return await start_server(self._config, self._host, self._port)

    @property
    def sim(self) -> RunningSim:
        """The running server (use its coroutines through :meth:`call`)."""
        return self.server

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/``, with a trailing slash."""
        return self.sim.base_url

    @property
    def stats(self) -> SimStats:
        """Live counters, safe to read from this thread."""
        return self.sim.stats

    @property
    def archive(self) -> Archive:
        """The archive layout."""
        return self.sim.archive

    @property
    def slots(self) -> tuple[Slot, ...]:
        """The ground-station pass schedule."""
        return self.sim.slots

    @property
    def files(self) -> list[ListedFile]:
        """The listing (current generations), read on the server's loop."""
        return self._on_loop(lambda: self.sim.files)

    @property
    def faults(self) -> FaultConfig:
        """The fault knobs in force."""
        return self.sim.faults

    def url_for(self, path: str) -> str:
        """Absolute URL of the file at archive path ``path``."""
        return self.sim.url_for(path)

    def set_faults(self, faults: FaultConfig | None = None, /, **changes: object) -> FaultConfig:
        """Put new fault knobs in force; see :meth:`RunningSim.set_faults`."""
        return self._on_loop(lambda: self.sim.set_faults(faults, **changes))

    def publish_until(self, moment: datetime | None) -> None:
        """List only the files downlinked by ``moment``; see :meth:`RunningSim.publish_until`."""
        self._on_loop(lambda: self.sim.publish_until(moment))

    def change_file(self, path: str) -> ListedFile:
        """Give a file new content now; see :meth:`RunningSim.change_file`."""
        return self.call(self.sim.change_file(path))

    @property
    def mast(self) -> RunningMast:
        """The MAST side (its read-only views are safe from this thread)."""
        return self.sim.mast

    def set_mast_knobs(self, knobs: MastKnobs | None = None, /, **changes: object) -> MastKnobs:
        """Put new MAST knobs in force; see :meth:`RunningMast.set_knobs`."""
        return self._on_loop(lambda: self.sim.mast.set_knobs(knobs, **changes))

    def mast_files(self, products: Iterable[MastProduct] | None = None) -> list[ProductFile]:
        """MAST products on disk with their SHA-256s; see :meth:`RunningMast.files`."""
        return self.call(self.sim.mast.files(products), timeout=None)
