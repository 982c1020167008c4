"""``skyhaul serve``: the web view of one catalog, until SIGINT or SIGTERM.

Rules:
- Binds 127.0.0.1:8000 unless told otherwise. Off loopback it needs ``--token-env VAR``
  (the token is read from that environment variable, never from the command line, where
  ``ps`` shows it); without one it refuses to start (exit code 2).
- Prints ``skyhaul serving http://HOST:PORT/`` once it accepts connections (the real port
  when ``--port 0`` asked for any); ``--url-file`` also writes the URL to a file.
- SIGINT and SIGTERM stop it: open event streams end, the jobs it runs are cancelled
  (files stay resumable, ``skyhaul jobs resume`` goes on) and it exits 0.
- A bad ``--mast-url`` (or ``$SKYHAUL_MAST_URL``) is refused at start (exit 2), not at
  the first search.
- FastAPI and uvicorn are imported here only: no other command pays for them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skyhaul.cli.common import start
from skyhaul.cli.options import CommonOptions, build_common, with_options
from skyhaul.errors import UsageError

if TYPE_CHECKING:
    import uvicorn

    from skyhaul.web.settings import WebSettings

__all__ = ["serve"]

_SERVER = "Server"


@with_options(common=build_common)
def serve(
    *,
    common: CommonOptions,
    host: Annotated[
        str, typer.Option(help="Address to listen on.", rich_help_panel=_SERVER)
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(min=0, max=65535, help="Port (0: any free one).", rich_help_panel=_SERVER),
    ] = 8000,
    token_env: Annotated[
        str | None,
        typer.Option(
            "--token-env",
            metavar="VAR",
            help="Environment variable holding the token callers must give (required off"
            " loopback).",
            rich_help_panel=_SERVER,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Configuration file with \\[sources.<name>] tables \\[default:"
            " $SKYHAUL_CONFIG, else ./skyhaul.toml].",
            show_default=False,
        ),
    ] = None,
    dest: Annotated[
        Path,
        typer.Option("--dest", "-d", help="Where imports started from the browser go."),
    ] = Path("data"),
    mast_url: Annotated[
        str | None,
        typer.Option(
            "--mast-url",
            envvar="SKYHAUL_MAST_URL",
            help="MAST's root URL \\[default: https://mast.stsci.edu].",
            show_default=False,
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Do not verify archives' TLS certificates.")
    ] = False,
    url_file: Annotated[
        Path | None,
        typer.Option(help="Also write the URL to this file once serving.", metavar="FILE"),
    ] = None,
) -> None:
    """Serve the web view: live jobs, files, backfill ledgers, MAST search and import."""
    start(common)
    from skyhaul.adapters.mast import mast_url as checked_mast_url
    from skyhaul.web.settings import WebSettings, check_exposure

    token = _token(token_env)
    check_exposure(host, token)
    settings = WebSettings(
        catalog=common.catalog,
        config=config,
        token=token,
        dest_root=dest.resolve(),
        mast_url=checked_mast_url(mast_url, os.environ),
        verify_tls=not insecure,
    )
    asyncio.run(_serve(settings, host, port, url_file))


def _token(variable: str | None) -> str | None:
    if variable is None:
        return None
    value = os.environ.get(variable, "")
    if not value.strip():
        raise UsageError(f"--token-env {variable}: that environment variable is empty or unset")
    return value.strip()


@contextmanager
def _signals_stop(server: uvicorn.Server) -> Iterator[None]:
    """Make SIGINT and SIGTERM stop ``server`` (and the command exit 0), whenever they come.

    uvicorn handles them itself while it serves, then raises the signal again into the
    handlers it found: the command line's would make that an interruption (exit 130).
    These ask the server to stop instead, before uvicorn's are in place and after.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        server.should_exit = True

    stopping = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, stop) for signum in stopping}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


async def _serve(settings: WebSettings, host: str, port: int, url_file: Path | None) -> None:
    import uvicorn

    from skyhaul.web.app import create_app, end_streams

    app = create_app(settings)

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            await end_streams(app)  # else uvicorn waits for them forever
            await super().shutdown(sockets)

    server = Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    with _signals_stop(server):
        await _run(server, host, port, url_file)


async def _run(server: uvicorn.Server, host: str, port: int, url_file: Path | None) -> None:
    from skyhaul.sim.cache import write_text_atomically

    serving = asyncio.ensure_future(server.serve())
    try:
        # uvicorn has no "started" event to wait on.
        while not server.started and not serving.done():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if server.started:
            bound = server.servers[0].sockets[0].getsockname()
            shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
            url = f"http://{shown}:{bound[1]}/"
            if url_file is not None:
                write_text_atomically(url_file, url + "\n")
            print(f"skyhaul serving {url}", flush=True)
        await serving
    except SystemExit:  # uvicorn exits when it cannot bind: say so as one line, exit 2
        raise UsageError(
            f"cannot listen on {host}:{port} (in use, or not an address here)"
        ) from None
