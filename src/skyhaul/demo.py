"""``make demo``: a simulated archive with a few faults, downloaded by the real CLI.

Rules:
- Everything the demo makes lives under one directory (``demo-data/``): the manifest, the
  files, the catalog and the simulator's port.
- The simulator keeps the port of the first run, so a second run names the same URLs and
  finds every file done: it downloads nothing and exits 0 (URLs are catalog identities).
- The CLI runs as a subprocess, exactly as a user runs it: a real progress bar, real
  signals. Ctrl-C reaches both processes; the demo waits for the CLI and exits with its code.
- Faults are on but mild (latency, random 503s, a rate limit, a few dropped connections
  and corrupted bodies): retries and verification bring every file home.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from skyhaul.core.units import format_size
from skyhaul.sim import FaultConfig, SimConfig, SimThread, profile

__all__ = ["DEMO_FAULTS", "main"]

#: Mild faults: every file still ends DOWNLOADED thanks to retries and checksums.
DEMO_FAULTS = FaultConfig(
    seed=7,
    latency=0.01,
    p503=0.02,
    retry_after_503=1.0,
    rate_limit=400.0,
    burst=100,
    retry_after=1.0,
    drop_after=64 * 1024,
    p_drop=0.03,
    corrupt=0.01,
)

_PORT_FILE = "sim-port"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return the exit code of ``skyhaul get``.

    Parameters
    ----------
    argv : sequence of str, optional
        ``--profile NAME`` (default ``demo``, about 200 files) and ``--dir DIR``
        (default ``demo-data``).
    """
    args = _parser().parse_args(argv)
    root: Path = args.dir
    root.mkdir(parents=True, exist_ok=True)
    port_file = root / _PORT_FILE
    port = int(port_file.read_text()) if port_file.exists() else 0
    config = SimConfig(archive=profile(args.profile), faults=DEMO_FAULTS)
    _say(f"Starting a simulated archive ({args.profile} profile) ...")
    try:
        sim = SimThread(config, port=port).start()
    except OSError as exc:
        _say(f"cannot listen on port {port} used by the last demo run ({exc.strerror});")
        _say(f"free it, or remove {root} to start afresh")
        return 2
    try:
        port_file.write_text(str(_port(sim)))
        total = sum(f.size for f in sim.files)
        _say(
            f"Archive at {sim.base_url}: {len(sim.files)} files, {format_size(total)}; "
            "faults on: latency, random 503s, rate limit, dropped connections, corruption"
        )
        manifest = root / "manifest.csv"
        with urllib.request.urlopen(sim.base_url + "api/manifest.csv", timeout=60) as answer:
            manifest.write_bytes(answer.read())
        _say(f"Manifest saved to {manifest}")
        code = _skyhaul(
            "get", "-i", str(manifest), "-d", str(root / "files"), "--catalog", _catalog(root)
        )
        _skyhaul("status", "--catalog", _catalog(root))
        stats = sim.stats.snapshot()
        _say(
            f"The archive answered {stats.requests:,} request(s) "
            f"({_faults(stats.by_status, stats.dropped, stats.corrupted)})"
        )
        if code == 0:
            _say("Run the demo again: it finds every file done and downloads nothing.")
    finally:
        sim.stop()
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m skyhaul.demo", description=__doc__)
    parser.add_argument("--profile", default="demo", help="simulator profile (demo, small)")
    parser.add_argument("--dir", type=Path, default=Path("demo-data"), help="where to put it")
    return parser


def _catalog(root: Path) -> str:
    return str(root / "catalog.db")


def _port(sim: SimThread) -> int:
    return int(sim.base_url.rstrip("/").rsplit(":", 1)[1])


def _skyhaul(*args: str) -> int:
    """Run the real command line as a user would; wait for it even through Ctrl-C."""
    _say("$ skyhaul " + " ".join(args))
    process = subprocess.Popen([sys.executable, "-m", "skyhaul.cli.app", *args])
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:  # the CLI got the signal too and is winding down
            continue


def _faults(by_status: dict[int, int], dropped: int, corrupted: int) -> str:
    parts = [f"{by_status.get(code, 0)} x {code}" for code in (429, 503)]
    return ", ".join([*parts, f"{dropped} dropped", f"{corrupted} corrupted"])


def _say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
