"""``skyhaul sim observatory``: write raw instrument files into a directory over time.

Rules:
- The first line on stdout is ``skyhaul-sim observatory writing into <DIR> (...)``,
  flushed at once; the last, once it stops, ``skyhaul-sim observatory wrote <N> files
  (<X> MiB)``.
- It stops after ``--count`` files, after ``--duration``, or on SIGINT or SIGTERM:
  exit code 0 in each case (a file being written is finished first).
- Values are read by the simulator's knob parsers (:mod:`skyhaul.sim.knobs`); a bad one
  is one line on stderr and exit code 2.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from skyhaul.errors import ConfigError
from skyhaul.sim import knobs
from skyhaul.sim.observatory import Observatory

__all__ = ["observatory"]


def observatory(
    directory: Annotated[
        Path,
        typer.Option("--dir", help="Directory to write into (a source location).", metavar="DIR"),
    ],
    rate: Annotated[
        str, typer.Option(help="Files per second (10, 10/s, 600/m).", metavar="RATE")
    ] = "10/s",
    units: Annotated[str, typer.Option(help="Executed observation units.", metavar="N")] = "5",
    modules: Annotated[str, typer.Option(help="Instrument modules.", metavar="N")] = "4",
    size: Annotated[
        str,
        typer.Option(help="File size, or MIN-MAX for mixed sizes (log-uniform).", metavar="SIZE"),
    ] = "1KiB-256KiB",
    duration: Annotated[
        str | None, typer.Option(help="Stop after this long (30s, 5m).", metavar="SECONDS")
    ] = None,
    count: Annotated[str | None, typer.Option(help="Stop after N files.", metavar="N")] = None,
    seed: Annotated[str, typer.Option(help="Seed of sizes and content.", metavar="N")] = "0",
) -> None:
    """Write raw instrument files into DIR as an observatory would:
    {obs_unit}/{module}/... , each renamed into place when complete."""
    writer = Observatory(
        directory,
        rate=knobs.parse_rate("--rate", rate),
        units=knobs.parse_count("--units", units, minimum=1),
        modules=knobs.parse_count("--modules", modules, minimum=1),
        seed=knobs.parse_count("--seed", seed),
        sizes=_size_range(size),
    )
    stop_after = None if count is None else knobs.parse_count("--count", count, minimum=1)
    seconds = None if duration is None else knobs.parse_duration("--duration", duration)
    stop = threading.Event()
    restore = _stop_on_signals(stop)
    try:
        print(
            f"skyhaul-sim observatory writing into {directory} ({writer.rate:g} files/s,"
            f" {writer.units} units x {writer.modules} modules)",
            flush=True,
        )
        totals = writer.run(count=stop_after, duration=seconds, wait=stop.wait)
    finally:
        restore()
    mib = totals.bytes / 2**20
    print(f"skyhaul-sim observatory wrote {totals.files} files ({mib:.1f} MiB)", flush=True)


def _size_range(text: str) -> tuple[int, int]:
    low, dash, high = text.partition("-")
    smallest = knobs.parse_size("--size", low)
    largest = knobs.parse_size("--size", high) if dash else smallest
    if smallest < 1 or largest < smallest:
        raise ConfigError(f"--size: expected SIZE or MIN-MAX with 1 <= MIN <= MAX, got {text!r}")
    return smallest, largest


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Make SIGINT and SIGTERM set ``stop``; return what undoes it."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in signals}
    for sig in signals:
        signal.signal(sig, lambda signum, frame: stop.set())

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

    return restore
