"""``skyhaul stream send`` and ``skyhaul stream receive``: files through a message broker.

Rules:
- ``send DIR`` publishes every file under ``DIR`` (``--include GLOB``) in chunks and
  exits once the broker has acknowledged every chunk: 0, or 1 when a file changed while
  it was sent (send it again once it has settled). With ``--watch`` it follows ``DIR``
  until Ctrl-C or SIGTERM (exit 130), sending each file once it has been unchanged for
  ``--settle`` (3 s), and again, as a new generation, whenever it changes.
- ``receive -d DIR`` reassembles files under ``DIR`` as a member of ``--consumer GROUP``
  until Ctrl-C or SIGTERM (exit 130; every chunk acknowledged is durable on disk), or,
  with ``--exit-when-idle DURATION``, until no chunk has come for that long: 0, or 1
  when a file started could not be completed.
- A broker that cannot be reached, a bad URL, stream or group name: one line, exit 2.
- The broker adapter (nats-py) is imported by these commands only.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from skyhaul.cli.common import Terminal, start
from skyhaul.cli.options import CommonOptions, build_common, duration_option, with_options
from skyhaul.core.settling import DEFAULT_SETTLE
from skyhaul.core.streamchunks import DEFAULT_CHUNK_SIZE
from skyhaul.core.units import format_size, parse_size
from skyhaul.ports.chunks import ChunkTransport
from skyhaul.services.cancellation import EXIT_INTERRUPTED, run_cancellable
from skyhaul.services.stream_receive import ReceiveOptions, Receiver
from skyhaul.services.stream_send import SendOptions, send_directory
from skyhaul.services.stream_watch import DirectoryFollower

__all__ = ["stream_app"]

stream_app = typer.Typer(
    name="stream",
    help="Stream files through a message broker (NATS JetStream), verified chunk by chunk.",
    no_args_is_help=True,
)

BrokerUrl = Annotated[
    str,
    typer.Option("--broker", metavar="URL", help="The broker, nats://HOST:PORT."),
]
StreamName = Annotated[
    str, typer.Option("--stream", metavar="NAME", help="The stream the files travel on.")
]


def _chunk_size(text: str | int) -> int:
    try:
        size = parse_size(str(text))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if size <= 0:
        raise typer.BadParameter(f"{text!r} must be more than 0 bytes")
    return size


@stream_app.command("send")
@with_options(common=build_common)
def send(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="The directory whose files are sent.")
    ],
    broker: BrokerUrl,
    stream: StreamName,
    chunk_size: Annotated[
        int,
        typer.Option(
            "--chunk-size",
            parser=_chunk_size,
            metavar="SIZE",
            help=f"Largest chunk \\[default: {format_size(DEFAULT_CHUNK_SIZE)}].",
            show_default=False,
        ),
    ] = DEFAULT_CHUNK_SIZE,
    include: Annotated[
        str | None,
        typer.Option("--include", metavar="GLOB", help="Send only paths matching GLOB."),
    ] = None,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Keep following DIR; send each file again when it changes."),
    ] = False,
    settle: Annotated[
        float,
        typer.Option(
            "--settle",
            parser=duration_option,
            metavar="DURATION",
            help="With --watch: how long a file must stay unchanged \\[default: 3s].",
            show_default=False,
        ),
    ] = DEFAULT_SETTLE,
    *,
    common: CommonOptions,
) -> None:
    """Send every file under DIR; exit once the broker holds every chunk."""
    terminal = start(common)
    options = SendOptions(chunk_size=chunk_size, include=include)

    async def run(cancel: asyncio.Event) -> int:
        transport = await _open(broker, stream)
        try:
            if watch:
                follower = DirectoryFollower(transport, directory, options, settle=settle)
                report = await follower.run(cancel)
            else:
                report = await send_directory(transport, directory, options)
        finally:
            await transport.close()
        document = {
            "files": len(report.files),
            "chunks": report.chunks,
            "duplicates": report.duplicates,
            "bytes": sum(f.size for f in report.files),
            "changed": report.changed,
        }
        _summarise(terminal, document, "sent")
        if cancel.is_set():
            return EXIT_INTERRUPTED
        return 1 if report.changed else 0

    raise typer.Exit(run_cancellable(run))


@stream_app.command("receive")
@with_options(common=build_common)
def receive(
    broker: BrokerUrl,
    stream: StreamName,
    destination: Annotated[
        Path,
        typer.Option("--dest", "-d", metavar="DIR", help="Where received files are written."),
    ],
    consumer: Annotated[
        str,
        typer.Option("--consumer", metavar="GROUP", help="Receivers of one group share the files."),
    ] = "skyhaul",
    exit_when_idle: Annotated[
        float | None,
        typer.Option(
            "--exit-when-idle",
            parser=duration_option,
            metavar="DURATION",
            help="Exit once no chunk has come for DURATION (1 if a file is incomplete).",
            show_default=False,
        ),
    ] = None,
    *,
    common: CommonOptions,
) -> None:
    """Receive files into DIR until Ctrl-C (or, with --exit-when-idle, until idle)."""
    terminal = start(common)
    options = ReceiveOptions(group=consumer, idle_exit=exit_when_idle)

    async def run(cancel: asyncio.Event) -> int:
        transport = await _open(broker, stream)
        try:
            report = await Receiver(transport, destination, options).run(stop=cancel)
        finally:
            await transport.close()
        document = {
            "completed": len(report.completed),
            "failed": report.failed,
            "errors": report.errors,
            "refused": report.refused,
            "duplicates": report.duplicates,
            "skipped": report.skipped,
            "terminated": report.terminated,
        }
        _summarise(terminal, document, "received")
        if cancel.is_set():
            return EXIT_INTERRUPTED
        return 1 if report.failed else 0

    raise typer.Exit(run_cancellable(run))


async def _open(broker: str, stream: str) -> ChunkTransport:
    from skyhaul.adapters.nats_chunks import open_chunk_transport

    return await open_chunk_transport(broker, stream)


def _summarise(terminal: Terminal, document: dict[str, object], verb: str) -> None:
    if terminal.json:
        terminal.emit_json(document)
        return
    words = ", ".join(f"{key} {value}" for key, value in document.items() if value)
    terminal.out.print(f"{verb}: {words or 'nothing'}", markup=False, highlight=False)
