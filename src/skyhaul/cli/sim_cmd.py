"""``skyhaul sim``: serve a simulated archive on loopback until SIGINT or SIGTERM.

Rules:
- The first line on stdout is exactly ``skyhaul-sim serving <base URL> (<N> files,
  <X> MiB)``, flushed at once, so a parent process can read the URL; ``--url-file``
  also writes the URL to a file (atomically, so a poller never reads half of it).
  Anything else goes to stderr.
- Knob values are read by :mod:`skyhaul.sim.knobs`, the same parsers the JSON control
  plane uses; a bad value is one line on stderr and exit code 2.
- The records API's token is never an argument (others can read a command line): it is
  read from the environment variable ``--records-token-env`` names.
- ``--s3`` also serves the same files as an S3 bucket (moto on loopback, see
  :mod:`skyhaul.sim.s3`): the second stdout line is exactly ``skyhaul-sim s3 <endpoint>
  bucket <name>``, printed with the first once both sides are up. The URL file keeps the
  base URL alone. The S3 side takes the fault knobs it can honour, fixed at start (with
  none, its endpoint is moto's own); moto missing is one line on stderr and exit code 2.
- MAST is always on, on the same port (:mod:`skyhaul.sim.mast`): ``--mast-*`` options
  choose its dataset and knobs; one line on stderr says where it is. ``--mast-profile
  bench`` makes the bench observation's 2 GiB on disk before serving. With ``--s3``,
  MAST's cloud products are also in the bucket ``--mast-bucket`` (``stpubdata``).
- SIGINT and SIGTERM stop the server cleanly: exit code 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from skyhaul.errors import ConfigError, UsageError
from skyhaul.sim import knobs
from skyhaul.sim.archive import ArchiveSpec, FileKind, profile
from skyhaul.sim.cache import write_text_atomically
from skyhaul.sim.config import SimConfig
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.mast.knobs import MastKnobs
from skyhaul.sim.mast.spec import MAST_BUCKET, mast_profile
from skyhaul.sim.s3 import RunningS3Sim, require_moto, start_s3_sim
from skyhaul.sim.s3_proxy import UNSUPPORTED_KNOBS, needs_proxy, proxy_faults
from skyhaul.sim.server import RunningSim, start_server

__all__ = ["sim"]

_FAULTS = "Faults (all off by default)"
_S3 = "S3 (the same files as a bucket)"
_RECORDS = "Records API (/api/records)"
_MAST = "MAST (always on, same port: /api/v0/invoke, Download/file, ...)"


def sim(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.", metavar="HOST")] = "127.0.0.1",
    port: Annotated[
        str, typer.Option(help="Port to listen on; 0 picks a free one.", metavar="PORT")
    ] = "0",
    root: Annotated[
        Path | None,
        typer.Option(
            help="Cache directory for the files (default: skyhaul-sim-USER in TMPDIR).",
            metavar="DIR",
        ),
    ] = None,
    profile_name: Annotated[
        str,
        typer.Option(
            "--profile", help="Archive: demo, small, bench-large or bench-many.", metavar="NAME"
        ),
    ] = "demo",
    files: Annotated[
        str | None,
        typer.Option(help="Serve N files of --size bytes instead of a profile.", metavar="N"),
    ] = None,
    size: Annotated[
        str | None,
        typer.Option(help="Size of each file with --files (e.g. 64KiB, 256MiB).", metavar="SIZE"),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            help="fits (sizes rounded to 2880-byte blocks) or blob (exact sizes);"
            " default: the profile's, or blob with --files.",
            metavar="KIND",
        ),
    ] = None,
    seed: Annotated[
        str, typer.Option(help="Seed of the archive and of the faults.", metavar="N")
    ] = "0",
    url_file: Annotated[
        Path | None, typer.Option(help="Also write the base URL to this file.", metavar="FILE")
    ] = None,
    latency: Annotated[
        str | None,
        typer.Option(
            help="Delay before each answer (0.2, 200ms).",
            metavar="SECONDS",
            rich_help_panel=_FAULTS,
        ),
    ] = None,
    bandwidth: Annotated[
        str | None,
        typer.Option(
            help="Bytes/s per connection (2MiB).", metavar="SIZE", rich_help_panel=_FAULTS
        ),
    ] = None,
    rate_limit: Annotated[
        str | None,
        typer.Option(
            help="Requests/s admitted, then 429 (10, 10r/s).",
            metavar="RATE",
            rich_help_panel=_FAULTS,
        ),
    ] = None,
    burst: Annotated[
        str | None,
        typer.Option(
            help="Extra requests admitted back to back.", metavar="N", rich_help_panel=_FAULTS
        ),
    ] = None,
    retry_after: Annotated[
        str | None,
        typer.Option(
            help="Retry-After seconds sent with 429.", metavar="SECONDS", rich_help_panel=_FAULTS
        ),
    ] = None,
    p503: Annotated[
        str | None,
        typer.Option(help="Probability of a 503 (0.1, 10%).", metavar="P", rich_help_panel=_FAULTS),
    ] = None,
    retry_after_503: Annotated[
        str | None,
        typer.Option(
            help="Retry-After seconds sent with 503.", metavar="SECONDS", rich_help_panel=_FAULTS
        ),
    ] = None,
    drop_after: Annotated[
        str | None,
        typer.Option(
            help="Close connections after this many body bytes.",
            metavar="SIZE",
            rich_help_panel=_FAULTS,
        ),
    ] = None,
    p_drop: Annotated[
        str | None,
        typer.Option(
            help="Probability --drop-after strikes (default 1).",
            metavar="P",
            rich_help_panel=_FAULTS,
        ),
    ] = None,
    corrupt: Annotated[
        str | None,
        typer.Option(
            help="Probability a body has bytes flipped.", metavar="P", rich_help_panel=_FAULTS
        ),
    ] = None,
    ignore_range: Annotated[
        bool,
        typer.Option(
            "--ignore-range", help="Ignore Range: always 200, full body.", rich_help_panel=_FAULTS
        ),
    ] = False,
    change_every: Annotated[
        str | None,
        typer.Option(
            help="New file content after every N requests.", metavar="N", rich_help_panel=_FAULTS
        ),
    ] = None,
    p_change: Annotated[
        str | None,
        typer.Option(
            help="Probability a request brings new content.", metavar="P", rich_help_panel=_FAULTS
        ),
    ] = None,
    fail_path: Annotated[
        list[str] | None,
        typer.Option(
            help="This archive path always fails (repeatable).",
            metavar="PATH=STATUS",
            rich_help_panel=_FAULTS,
        ),
    ] = None,
    no_digest: Annotated[
        bool,
        typer.Option("--no-digest", help="Leave out Repr-Digest headers.", rich_help_panel=_FAULTS),
    ] = False,
    faults_on_api: Annotated[
        bool,
        typer.Option("--faults-on-api", help="Fault /api/ requests too.", rich_help_panel=_FAULTS),
    ] = False,
    sensors: Annotated[
        str | None,
        typer.Option(help="Sensors served (default 32).", metavar="N", rich_help_panel=_RECORDS),
    ] = None,
    cadence: Annotated[
        str | None,
        typer.Option(
            help="Seconds between samples (default 5s).",
            metavar="SECONDS",
            rich_help_panel=_RECORDS,
        ),
    ] = None,
    records_rate: Annotated[
        str | None,
        typer.Option(
            help="Requests/s admitted to /api/records, then 429 (20, 20r/s).",
            metavar="RATE",
            rich_help_panel=_RECORDS,
        ),
    ] = None,
    records_burst: Annotated[
        str | None,
        typer.Option(
            help="Extra /api/records requests admitted back to back (default 5).",
            metavar="N",
            rich_help_panel=_RECORDS,
        ),
    ] = None,
    records_gap: Annotated[
        str | None,
        typer.Option(
            help="Fraction of samples missing (0.02, 2%).", metavar="P", rich_help_panel=_RECORDS
        ),
    ] = None,
    records_no_data_day: Annotated[
        list[str] | None,
        typer.Option(
            help="A UTC day with no records (repeatable).",
            metavar="YYYY-MM-DD",
            rich_help_panel=_RECORDS,
        ),
    ] = None,
    records_malformed_day: Annotated[
        list[str] | None,
        typer.Option(
            help="A UTC day answered with invalid JSON (repeatable).",
            metavar="YYYY-MM-DD",
            rich_help_panel=_RECORDS,
        ),
    ] = None,
    s3: Annotated[
        bool,
        typer.Option(
            "--s3", help="Also serve the files from an S3 bucket (moto).", rich_help_panel=_S3
        ),
    ] = False,
    s3_port: Annotated[
        str,
        typer.Option(
            help="Port of the S3 endpoint; 0 picks a free one.",
            metavar="PORT",
            rich_help_panel=_S3,
        ),
    ] = "0",
    s3_bucket: Annotated[
        str, typer.Option(help="Name of the S3 bucket.", metavar="NAME", rich_help_panel=_S3)
    ] = "skyhaul-sim",
    mast_profile_name: Annotated[
        str,
        typer.Option(
            "--mast-profile",
            help="MAST dataset: default (12 observations, ~30 MiB) or bench"
            " (adds 200 products, 2 GiB, made before serving).",
            metavar="NAME",
            rich_help_panel=_MAST,
        ),
    ] = "default",
    mast_bucket: Annotated[
        str,
        typer.Option(
            help="With --s3: bucket of MAST's cloud products.",
            metavar="NAME",
            rich_help_panel=_MAST,
        ),
    ] = MAST_BUCKET,
    mast_executing_polls: Annotated[
        str | None,
        typer.Option(
            help="Answer EXECUTING to the first N polls of each query.",
            metavar="N",
            rich_help_panel=_MAST,
        ),
    ] = None,
    mast_error_service: Annotated[
        list[str] | None,
        typer.Option(
            help="This service answers status ERROR ('*': all; repeatable).",
            metavar="SERVICE",
            rich_help_panel=_MAST,
        ),
    ] = None,
    mast_no_etag: Annotated[
        bool,
        typer.Option("--mast-no-etag", help="Download/file without ETag.", rich_help_panel=_MAST),
    ] = False,
    mast_no_last_modified: Annotated[
        bool,
        typer.Option(
            "--mast-no-last-modified",
            help="Download/file without Last-Modified.",
            rich_help_panel=_MAST,
        ),
    ] = False,
    mast_no_ranges: Annotated[
        bool,
        typer.Option(
            "--mast-no-ranges",
            help="Download/file without Accept-Ranges, ignoring Range.",
            rich_help_panel=_MAST,
        ),
    ] = False,
    records_token_env: Annotated[
        str | None,
        typer.Option(
            help="Require the token in this environment variable (Bearer, or Basic password).",
            metavar="VAR",
            rich_help_panel=_RECORDS,
        ),
    ] = None,
) -> None:
    """Serve a simulated science archive over HTTP: FITS files with listings, a records
    API, and MAST (queries, name resolver, path lookup, downloads, as astroquery uses
    them), with fault knobs. 'skyhaul sim observatory' writes raw instrument files."""
    if ctx.invoked_subcommand is not None:
        _refuse_server_options(ctx)
        return
    fault_values: dict[str, object] = {
        "--latency": latency,
        "--bandwidth": bandwidth,
        "--rate-limit": rate_limit,
        "--burst": burst,
        "--retry-after": retry_after,
        "--p503": p503,
        "--retry-after-503": retry_after_503,
        "--drop-after": drop_after,
        "--p-drop": p_drop,
        "--corrupt": corrupt,
        "--change-every": change_every,
        "--p-change": p_change,
        "--fail-path": fail_path or None,
        "--ignore-range": ignore_range,
        "--no-digest": no_digest,
        "--faults-on-api": faults_on_api,
        "--sensors": sensors,
        "--cadence": cadence,
        "--records-rate": records_rate,
        "--records-burst": records_burst,
        "--records-gap": records_gap,
        "--records-no-data-day": records_no_data_day or None,
        "--records-malformed-day": records_malformed_day or None,
    }
    try:
        seed_value = knobs.parse_count("--seed", seed)
        port_value = _parse_port("--port", port)
        s3_side = _S3Side(_parse_port("--s3-port", s3_port), s3_bucket, mast_bucket) if s3 else None
        if s3_side is not None:
            require_moto()
        chosen = {name: value for name, value in fault_values.items() if value is not None}
        if records_token_env is not None:
            chosen["records_token"] = _token_from_env(records_token_env)
        faults = FaultConfig.from_mapping({**chosen, "seed": seed_value})
        archive = _archive_spec(profile_name, files, size, kind, seed_value)
        mast = mast_profile(mast_profile_name, seed_value)
        mast_knobs = MastKnobs.from_mapping(
            {
                name: value
                for name, value in {
                    "--mast-executing-polls": mast_executing_polls,
                    "--mast-error-service": mast_error_service or None,
                    "--mast-etag": False if mast_no_etag else None,
                    "--mast-last-modified": False if mast_no_last_modified else None,
                    "--mast-ranges": False if mast_no_ranges else None,
                }.items()
                if value is not None
            }
        )
    except ConfigError as exc:
        _fail(str(exc))
    config = SimConfig(archive=archive, root=root, faults=faults, mast=mast, mast_knobs=mast_knobs)
    try:
        asyncio.run(_serve(config, host, port_value, url_file, s3_side))
    except OSError as exc:  # port taken, cache or URL file not writable
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror if exc.filename else exc}")
    except ConfigError as exc:  # the S3 side could not be set up
        _fail(str(exc))


def _refuse_server_options(ctx: typer.Context) -> None:
    """A server option beside a subcommand is a mistake: say so rather than ignore it."""
    given = []
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name) if param.name else None
        if source is not None and source.name == "COMMANDLINE":  # typer vendors click's enum
            given.append(param.opts[0])
    if given:
        raise UsageError(
            f"{', '.join(given)}: an option of 'skyhaul sim' itself,"
            f" not of 'skyhaul sim {ctx.invoked_subcommand}'"
        )


@dataclass(frozen=True)
class _S3Side:
    port: int
    bucket: str
    mast_bucket: str


def _parse_port(name: str, value: str) -> int:
    number = knobs.parse_count(name, value)
    if number > 65535:
        raise ConfigError(f"{name}: must be at most 65535, got {value!r}")
    return number


def _token_from_env(variable: str) -> str:
    token = os.environ.get(variable, "").strip()
    if not token:
        raise ConfigError(f"--records-token-env: environment variable {variable!r} is not set")
    return token


def _archive_spec(
    name: str, files: str | None, size: str | None, kind_name: str | None, seed: int
) -> ArchiveSpec:
    kind = _parse_kind(kind_name)
    if files is None and size is None:
        spec = profile(name, seed)
        return spec if kind is None else dataclasses.replace(spec, kind=kind)
    if files is None or size is None:
        raise ConfigError("--files and --size go together")
    count = knobs.parse_count("--files", files, minimum=1)
    nbytes = knobs.parse_size("--size", size)
    if nbytes < 1:
        raise ConfigError(f"--size: must be at least one byte, got {size!r}")
    return ArchiveSpec.exact(count, nbytes, kind=kind or "blob", seed=seed)


def _parse_kind(kind: str | None) -> FileKind | None:
    if kind is None:
        return None
    if kind == "fits":
        return "fits"
    if kind == "blob":
        return "blob"
    raise ConfigError(f"--kind: must be fits or blob, got {kind!r}")


async def _serve(
    config: SimConfig, host: str, port: int, url_file: Path | None, s3: _S3Side | None
) -> None:
    stop = asyncio.Event()
    restore = _stop_on_signals(stop)
    try:
        typer.echo(
            f"skyhaul-sim: preparing {config.archive.count} files in {config.cache_root}",
            err=True,
        )
        async with contextlib.AsyncExitStack() as running_sides:
            running = await start_server(config, host, port)
            running_sides.push_async_callback(running.close)
            await _prepare_mast(running, config)
            s3_line = None
            if s3 is not None:
                s3_sim = await _start_s3(config, host, s3)
                running_sides.push_async_callback(s3_sim.close)
                s3_line = f"skyhaul-sim s3 {s3_sim.endpoint} bucket {s3_sim.bucket}"
            mib = running.archive.total_size / 2**20
            count = len(running.archive.files)
            if url_file is not None:  # first, so it exists once the line is read
                write_text_atomically(url_file, running.base_url + "\n")
            line = f"skyhaul-sim serving {running.base_url} ({count} files, {mib:.1f} MiB)"
            _echo_mast(running, s3)
            print(line if s3_line is None else f"{line}\n{s3_line}", flush=True)
            await stop.wait()
    finally:
        restore()


async def _start_s3(config: SimConfig, host: str, side: _S3Side) -> RunningS3Sim:
    """Start the S3 side with the fault knobs it honours (and no proxy when none is set)."""
    faults = proxy_faults(config.faults)
    ignored = [k for k in UNSUPPORTED_KNOBS if getattr(config.faults, k) != getattr(faults, k)]
    if ignored:
        typer.echo(f"skyhaul-sim: the S3 side ignores {', '.join(ignored)}", err=True)
    s3_config = dataclasses.replace(config, faults=faults)
    return await start_s3_sim(
        s3_config,
        host,
        side.port,
        side.bucket,
        proxy=needs_proxy(faults),
        mast_bucket=side.mast_bucket,
    )


async def _prepare_mast(running: RunningSim, config: SimConfig) -> None:
    """Make the bench observation's products before serving, when it is asked for."""
    if not config.mast.bench:
        return
    bench = running.mast.observations[-1]
    products = running.mast.products_of(bench.obs_id)
    gib = sum(p.size for p in products) / 2**30
    typer.echo(
        f"skyhaul-sim: making MAST's bench observation {bench.obs_id}"
        f" ({len(products)} products, {gib:.1f} GiB) in {config.cache_root}",
        err=True,
    )
    await running.mast.files(products)


def _echo_mast(running: RunningSim, s3: _S3Side | None) -> None:
    dataset = running.mast.dataset
    mib = dataset.total_size / 2**20
    where = f"; S3 bucket {s3.mast_bucket}" if s3 is not None else ""
    typer.echo(
        f"skyhaul-sim: MAST at {running.mast.server_url} ({len(dataset.observations)}"
        f" observations, {len(dataset.products)} products, {mib:.1f} MiB{where})",
        err=True,
    )


def _stop_on_signals(stop: asyncio.Event) -> Callable[[], None]:
    """Make SIGINT and SIGTERM set ``stop``; return what undoes it."""
    loop = asyncio.get_running_loop()
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        loop.add_signal_handler(sig, stop.set)

    def restore() -> None:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

    return restore


def _fail(message: str) -> NoReturn:
    typer.echo(f"skyhaul: error: {message}", err=True)
    raise typer.Exit(2)
