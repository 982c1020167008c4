"""How each client is told to fetch a job: one command line per tool and flag set.

Rules:
- A ``Client`` turns a ``Job`` (the offered files, an empty output directory, a private
  scratch directory) into an argv; it may write config files into the scratch directory.
- Every client saves each file as ``<output dir>/<basename of the URL>``, so one check
  serves all.
- Flags follow the issue: curl sequential on one connection, wget over a URL list,
  aria2c ``-j16`` for many files and ``-j4 -x4 -s4`` for large ones, parfive with 16
  connections (with its default splitting, ``max_splits=5``, and tuned for small files,
  ``max_splits=1``), a bare aiohttp loop, skyhaul ``get -j 16`` with its own catalog.
- Two clients of one tool in one scenario differ by ``variant``: results are kept by
  ``Client.key`` (the tool, or ``tool/variant``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.datasets import Offered

#: parfive's default ``max_splits`` (``clients/parfive_get`` passes it explicitly).
PARFIVE_DEFAULT_SPLITS = 5
#: The key of parfive tuned for small files (``max_splits=1``) in a scenario's results.
PARFIVE_TUNED = "parfive/max_splits=1"

__all__ = [
    "PARFIVE_DEFAULT_SPLITS",
    "PARFIVE_TUNED",
    "Client",
    "Job",
    "aiohttp_loop",
    "aria2c",
    "aria2c_input",
    "catalog_url",
    "curl",
    "guarded_loop",
    "parfive",
    "skyhaul",
    "wget",
]


@dataclass(frozen=True, slots=True)
class Job:
    """What one run of one client must do.

    Parameters
    ----------
    offered : Offered
        The files (URL list and manifest included).
    out_dir : Path
        Empty directory the files go to.
    scratch : Path
        Empty private directory for config files, catalogs and logs.
    """

    offered: Offered
    out_dir: Path
    scratch: Path


@dataclass(frozen=True, slots=True)
class Client:
    """One tool with one set of flags.

    Parameters
    ----------
    name : str
        Label in the tables (``aria2c -j16``).
    tool : str
        Which program it needs (``curl``, ``wget``, ``aria2c``, ``parfive``, ``aiohttp``,
        ``skyhaul``); the harness skips the client when that program is unavailable.
    argv : callable
        ``(program, job) -> argv``; ``program`` is the path of the tool's executable.
    variant : str
        Tells this client from another of the same tool in one scenario (``max_splits=1``);
        empty for the tool's usual client.
    """

    name: str
    tool: str
    argv: Callable[[str, Job], list[str]]
    variant: str = ""

    @property
    def key(self) -> str:
        """Where its results are kept: the tool's name, or ``tool/variant``."""
        return f"{self.tool}/{self.variant}" if self.variant else self.tool

    @property
    def dirname(self) -> str:
        """Its directory's name under a scenario's work directory (the key, one level)."""
        return self.key.replace("/", "-")


def curl() -> Client:
    """curl fetching the files one after another over one connection (``-s -o``)."""

    def argv(program: str, job: Job) -> list[str]:
        config = job.scratch / "curl.conf"
        lines = []
        for url, entry in zip(job.offered.urls, job.offered.entries, strict=True):
            lines.append(f'url = "{url}"\noutput = "{job.out_dir / entry.name}"\n')
        config.write_text("".join(lines))
        return [program, "-s", "-K", str(config)]

    return Client("curl", "curl", argv)


def wget() -> Client:
    """wget over the URL list, one file at a time."""

    def argv(program: str, job: Job) -> list[str]:
        return [program, "-q", "-i", str(job.offered.url_list), "-P", str(job.out_dir)]

    return Client("wget", "wget", argv)


def aria2c(*flags: str, checksums: bool = False) -> Client:
    """aria2c over the URL list with the given flags (``-j16``, ``-j4 -x4 -s4``, ...).

    With ``checksums``, its input file gives each URL's sha256 (``checksum=sha-256=``), so
    aria2c verifies every file as skyhaul does (a mismatch fails that file, exit code 32).
    """

    def argv(program: str, job: Job) -> list[str]:
        listed = job.offered.url_list
        if checksums:
            listed = job.scratch / "aria2c-input.txt"
            listed.write_text(aria2c_input(job.offered))
        return [
            program,
            *flags,
            "-i",
            str(listed),
            "-d",
            str(job.out_dir),
            "--allow-overwrite=true",
            "--auto-file-renaming=false",
            "--file-allocation=none",
            "-q",
        ]

    return Client(" ".join(["aria2c", *flags]), "aria2c", argv)


def aria2c_input(offered: Offered) -> str:
    """aria2c's input file for ``offered``: each URL, with its sha256 as an option below it."""
    lines = []
    for url, entry in zip(offered.urls, offered.entries, strict=True):
        lines.append(f"{url}\n  checksum=sha-256={entry.sha256}\n")
    return "".join(lines)


def parfive(max_conn: int = 16, max_splits: int = PARFIVE_DEFAULT_SPLITS) -> Client:
    """parfive's ``Downloader(max_conn=..., max_splits=...)`` in a child Python
    (``clients/parfive_get``).

    The default splitting (5) is the tool's usual client; any other is a variant
    (``max_splits=1``, key ``PARFIVE_TUNED``), so both can run in one scenario.
    """
    client = _python_client(
        f"parfive ({max_conn} conn, max_splits={max_splits})",
        "parfive",
        "parfive_get",
        f"--max-conn={max_conn}",
        f"--max-splits={max_splits}",
    )
    if max_splits == PARFIVE_DEFAULT_SPLITS:
        return client
    return replace(client, variant=f"max_splits={max_splits}")


def aiohttp_loop(max_conn: int | None = None) -> Client:
    """A bare aiohttp loop (``clients/aiohttp_get``): all files at once, or ``max_conn``
    at a time on uvloop, as skyhaul runs (the floor of a client on aiohttp)."""
    if max_conn is None:
        return _python_client("aiohttp loop", "aiohttp", "aiohttp_get")
    return _python_client(
        f"aiohttp loop ({max_conn} conn, uvloop)",
        "aiohttp",
        "aiohttp_get",
        f"--max-conn={max_conn}",
        "--uvloop",
    )


def guarded_loop(max_conn: int = 16) -> Client:
    """The bare loop plus what skyhaul promises of every file (``clients/guarded_get``):
    part file, sha256, fsync, rename, directory fsync and a SQLite record per batch."""

    def argv(python: str, job: Job) -> list[str]:
        module = "benchmarks.clients.guarded_get"
        listed, catalog = str(job.offered.url_list), str(job.scratch / "guarded.db")
        return [python, "-m", module, listed, str(job.out_dir), catalog, f"--max-conn={max_conn}"]

    return Client(
        f"aiohttp loop + guarantees ({max_conn} conn, uvloop)", "aiohttp", argv, "guarded"
    )


def _python_client(name: str, tool: str, program_module: str, *flags: str) -> Client:
    """A program of ``benchmarks/clients`` taking ``LIST DIR [flags]``, run by the interpreter."""

    def argv(python: str, job: Job) -> list[str]:
        module = f"benchmarks.clients.{program_module}"
        return [python, "-m", module, str(job.offered.url_list), str(job.out_dir), *flags]

    return Client(name, tool, argv)


def skyhaul(concurrency: int = 16, *flags: str) -> Client:
    """``skyhaul get`` over the CSV manifest with a fresh SQLite catalog in the scratch dir,
    and any more ``flags`` (``--segment-size 8MiB``)."""

    def argv(program: str, job: Job) -> list[str]:
        return [
            program,
            "get",
            "-i",
            str(job.offered.manifest),
            "-d",
            str(job.out_dir),
            "--catalog",
            catalog_url(job.scratch),
            "-j",
            str(concurrency),
            *flags,
            "--no-progress",
            "--json",
        ]

    return Client(" ".join([f"skyhaul -j {concurrency}", *flags]), "skyhaul", argv)


def catalog_url(scratch: Path) -> str:
    """The SQLite catalog URL skyhaul uses for a run (absolute path: four slashes)."""
    return f"sqlite:///{scratch.resolve() / 'catalog.db'}"
