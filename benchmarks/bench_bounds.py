"""Lower bounds behind targets (a) and (b): what native tools and bare imports cost here.

    python -m benchmarks.bench_bounds [--repeat N]

Rules:
- (a) asks for 4 x 256 MiB with sha256 verified within 1.15x curl's wall time (curl only
  writes). The bound: the same files through ``curl | tee FILE | openssl dgst -sha256``,
  the four pipelines in parallel (both cores), against ``curl`` one file after another;
  and ``openssl dgst -sha256`` of the four files, in parallel, with no network at all.
  A verifying client cannot beat native curl and OpenSSL (SHA-NI) working side by side.
- (a) also asks for no slower than ``aria2c -j4 -x4 -s4``. The bound: importing aiohttp
  and SQLAlchemy (nothing can be fetched before) followed by that hashing on both cores
  (nothing can be hashed before it is fetched), against aria2c in the same run.
- (b) asks for at least aria2c's files per second over 2,000 files, start-up included.
  The bound for any Python client built on the project's libraries: the interpreter
  starting and importing aiohttp, and aiohttp with SQLAlchemy, before any request.
- One nginx on loopback serves files of random bytes from ``/dev/shm`` (as ``run.py``);
  medians of ``--repeat`` runs; the files are deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.servers import NginxServer

__all__ = ["bounds", "main"]

FILES = 4
SIZE = 256 * 1024 * 1024
SMALL_FILES = 2000
SMALL_SIZE = 64 * 1024


def _timed(command: str) -> float:
    began = time.perf_counter()
    subprocess.run(command, shell=True, check=True)  # our own fixed pipelines
    return time.perf_counter() - began


def _write_random(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        for _ in range(size // (1 << 20)):
            handle.write(os.urandom(1 << 20))


def bounds(repeat: int = 5) -> dict[str, float]:
    """Return the median seconds of each bound (see the module docstring)."""
    nginx, curl, openssl = (shutil.which(name) for name in ("nginx", "curl", "openssl"))
    if nginx is None or curl is None or openssl is None:
        raise SystemExit("needs nginx, curl and openssl on PATH")
    aria2c = shutil.which("aria2c")
    python = shlex.quote(sys.executable)
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as directory:
        Path(directory).chmod(0o755)  # nginx workers drop root: they must read below it
        root, out = Path(directory) / "root", Path(directory) / "out"
        (root / "files").mkdir(parents=True)
        out.mkdir()
        for i in range(FILES):
            _write_random(root / "files" / f"f{i}", SIZE)
        (root / "files" / "small").mkdir()
        for i in range(SMALL_FILES):
            (root / "files" / "small" / f"s{i}").write_bytes(os.urandom(SMALL_SIZE))
        with NginxServer(nginx, root) as server:
            urls = [f"{server.base_url}/files/f{i}" for i in range(FILES)]
            commands = {
                "(a) curl, one file after another": " && ".join(
                    f"{curl} -sf -o {out}/c{i} {url}" for i, url in enumerate(urls)
                ),
                "(a) curl | tee | openssl sha256, 4 in parallel": " & ".join(
                    f"({curl} -sf {url} | tee {out}/h{i} | {openssl} dgst -sha256 >/dev/null)"
                    for i, url in enumerate(urls)
                )
                + " & wait",
                "(a) openssl sha256 of the 4 files, in parallel, no network": " & ".join(
                    f"{openssl} dgst -sha256 {root}/files/f{i} >/dev/null" for i in range(FILES)
                )
                + " & wait",
                "(b) python: import aiohttp": f"{python} -c 'import aiohttp'",
                "(b) python: import aiohttp, sqlalchemy": (
                    f"{python} -c 'import aiohttp, sqlalchemy'"
                ),
            }
            # (a) "no slower than aria2c": the imports a client on the project's libraries
            # needs before its first request, then hashing alone on both cores.
            hash_all = commands["(a) openssl sha256 of the 4 files, in parallel, no network"]
            imports = commands["(b) python: import aiohttp, sqlalchemy"]
            commands["(a) import aiohttp, sqlalchemy, then that hashing"] = (
                f"{imports} && ({hash_all})"
            )
            # The same, with the four files also received and written (curl, in parallel)
            # while they are hashed: the work of a verifying client, done by native tools
            # side by side, without even a copy between them.
            fetch_all = " & ".join(f"{curl} -sf -o {out}/p{i} {url}" for i, url in enumerate(urls))
            commands["(a) import, then curl x4 and openssl x4 side by side"] = (
                f"{imports} && ({fetch_all} & {hash_all})"
            )
            if aria2c is not None:
                commands["(a) aria2c -j4 -x4 -s4 (as run.py)"] = (
                    f"{aria2c} -Z -j4 -x4 -s4 -d {out} --allow-overwrite=true "
                    f"--auto-file-renaming=false --file-allocation=none -q " + " ".join(urls)
                )
                small_list = Path(directory) / "small.txt"
                small_list.write_text(
                    "".join(f"{server.base_url}/files/small/s{i}\n" for i in range(SMALL_FILES))
                )
                commands["(b) aria2c -j16, 2,000 x 64 KiB (as run.py)"] = (
                    f"{aria2c} -j16 -i {small_list} -d {out} --allow-overwrite=true "
                    "--auto-file-renaming=false --file-allocation=none -q"
                )
            times: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(repeat):
                for name, command in commands.items():  # alternating, as run.py does
                    for stale in out.iterdir():
                        stale.unlink()
                    times[name].append(_timed(command))
                    fetched = list(out.iterdir())
                    if any(path.stat().st_size not in (SIZE, SMALL_SIZE) for path in fetched):
                        raise SystemExit(f"{name}: a file came short; is nginx serving?")
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> None:
    """Command line: print each bound's median."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5, help="runs per bound (median)")
    args = parser.parse_args(argv)
    results = bounds(args.repeat)
    curl = results["(a) curl, one file after another"]
    for name, seconds in results.items():
        ratio = f" ({seconds / curl:.2f}x curl)" if name.startswith("(a)") else ""
        print(f"{name}: {seconds:.2f} s{ratio}")


if __name__ == "__main__":
    main()
