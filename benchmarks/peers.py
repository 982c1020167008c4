"""How each client is told to fetch a job: one command line per tool and flag set.

Rules:
- A ``Client`` turns a ``Job`` (the offered files, an empty output directory, a private
  scratch directory) into an argv; it may write config files into the scratch directory.
- Every client saves each file as ``<output dir>/<basename of the URL>``, so one check
  serves all.
- Flags follow the issue: curl sequential on one connection, wget over a URL list,
  aria2c ``-j16`` for many files and ``-j4 -x4 -s4`` for large ones, parfive with 16
  connections, a bare aiohttp loop, skyhaul ``get -j 16`` with its own catalog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.datasets import Offered

__all__ = [
    "Client",
    "Job",
    "aiohttp_loop",
    "aria2c",
    "catalog_url",
    "curl",
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
    """

    name: str
    tool: str
    argv: Callable[[str, Job], list[str]]


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


def aria2c(*flags: str) -> Client:
    """aria2c over the URL list with the given concurrency flags (``-j16``, ...)."""

    def argv(program: str, job: Job) -> list[str]:
        return [
            program,
            *flags,
            "-i",
            str(job.offered.url_list),
            "-d",
            str(job.out_dir),
            "--allow-overwrite=true",
            "--auto-file-renaming=false",
            "--file-allocation=none",
            "-q",
        ]

    return Client(" ".join(["aria2c", *flags]), "aria2c", argv)


def parfive(max_conn: int = 16) -> Client:
    """parfive's ``Downloader(max_conn=...)`` in a child Python (``clients/parfive_get``)."""
    return _python_client(
        f"parfive ({max_conn} conn)", "parfive", "parfive_get", f"--max-conn={max_conn}"
    )


def aiohttp_loop() -> Client:
    """A bare aiohttp loop, all files at once (``clients/aiohttp_get``)."""
    return _python_client("aiohttp loop", "aiohttp", "aiohttp_get")


def _python_client(name: str, tool: str, program_module: str, *flags: str) -> Client:
    """A program of ``benchmarks/clients`` taking ``LIST DIR [flags]``, run by the interpreter."""

    def argv(python: str, job: Job) -> list[str]:
        module = f"benchmarks.clients.{program_module}"
        return [python, "-m", module, str(job.offered.url_list), str(job.out_dir), *flags]

    return Client(name, tool, argv)


def skyhaul(concurrency: int = 16) -> Client:
    """``skyhaul get`` over the CSV manifest with a fresh SQLite catalog in the scratch dir."""

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
            "--no-progress",
            "--json",
        ]

    return Client(f"skyhaul -j {concurrency}", "skyhaul", argv)


def catalog_url(scratch: Path) -> str:
    """The SQLite catalog URL skyhaul uses for a run (absolute path: four slashes)."""
    return f"sqlite:///{scratch.resolve() / 'catalog.db'}"
