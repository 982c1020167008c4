"""``skyhaul workers``: the workers and managers alive now, from their health keys.

Rules:
- The broker comes from ``--broker`` or ``$SKYHAUL_BROKER``, else ``broker`` in
  ``skyhaul.toml``, else the local Redis (as for ``worker`` and ``manager``). A Redis that
  cannot be reached is one line and exit code 2.
- One row per live service: name, type, host, pid, queues, since when, what it holds;
  ``no live workers`` when there is none. ``--json`` prints ``{"services": [...]}``.
- No catalog is opened: liveness lives in Redis only.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from skyhaul.adapters.liveness import live_services
from skyhaul.cli.common import start
from skyhaul.cli.execution import configured_broker
from skyhaul.cli.options import CommonOptions

__all__ = ["workers"]

SERVICE_TYPES = ("manager", "worker")


def workers(
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            envvar="SKYHAUL_BROKER",
            metavar="URL",
            help="The Redis broker (redis://host:port/db) \\[default: broker in skyhaul.toml, "
            "else redis://127.0.0.1:6379/0].",
            show_envvar=True,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")] = False,
) -> None:
    """List the live workers and managers: their queues and what they hold."""
    term = start(CommonOptions(json=as_json, verbose=verbose))
    broker = configured_broker(broker)
    services = asyncio.run(live_services(broker, service_types=SERVICE_TYPES))
    if term.json:
        term.emit_json({"services": [s.document() for s in services]})
        return
    if not services:
        term.out.print("no live workers", highlight=False)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("Name", "Type", "Host", "PID", "Queues", "Since", "Holding"):
        # Lists may wrap; a time or a name cut in two reads wrong.
        table.add_column(column, no_wrap=column not in ("Queues", "Holding"))
    for s in services:
        table.add_row(
            Text(s.name),
            Text(s.service_type),
            Text(s.host),
            str(s.pid),
            Text(", ".join(s.queues) or "-"),
            s.started.strftime("%Y-%m-%d %H:%M:%S UTC"),
            Text(", ".join(s.holding) or "-"),
        )
    term.out.print(table)
