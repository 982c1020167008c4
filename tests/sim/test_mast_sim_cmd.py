"""``skyhaul sim``'s MAST options: knobs at start, MAST's cloud bucket with ``--s3``."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
import typer
from typer.testing import CliRunner

from skyhaul.cli.sim_cmd import sim
from skyhaul.sim.mast.dataset import build_dataset
from skyhaul.sim.mast.spec import MastSpec

_WRAPPER = (
    "import sys, typer; from skyhaul.cli.sim_cmd import sim\n"
    "app = typer.Typer(); app.command()(sim); app(sys.argv[1:])"
)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(sim)
    return app


def test_help_mentions_mast() -> None:
    result = CliRunner().invoke(_app(), ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "MAST" in result.output and "--mast-profile" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mast-profile", "huge"], "unknown MAST profile 'huge' (known: default, bench)"),
        (["--mast-executing-polls", "many"], "--mast-executing-polls:"),
    ],
)
def test_bad_mast_options_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skyhaul: error: ") and message in lines[0]


def _lines(process: subprocess.Popen[bytes], count: int, timeout: float = 90.0) -> list[str]:
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    seen = b""
    while seen.count(b"\n") < count:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"only {seen!r} before the deadline"
        more = os.read(fd, 4096)
        assert more, f"stdout closed after {seen!r}"
        seen += more
    return seen.decode().split("\n")[:count]


def test_sim_serves_mast_with_its_knobs_and_its_bucket(sim_root: Path) -> None:
    args = ["--profile", "small", "--root", str(sim_root), "--s3"]
    args += ["--mast-executing-polls", "1", "--mast-no-etag"]
    process = subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        first, second = _lines(process, 2)
        base, endpoint = first.split()[2], second.split()[2]
        body = "request=" + quote(
            json.dumps({"service": "Mast.Name.Lookup", "params": {"input": "M1"}})
        )
        statuses = []
        for _ in range(2):
            request = urllib.request.Request(base + "api/v0/invoke", data=body.encode())
            with urllib.request.urlopen(request, timeout=30) as answer:
                statuses.append(json.load(answer)["status"])
        assert statuses == ["EXECUTING", ""]  # Name.Lookup's own status is empty
        product = next(p for p in build_dataset(MastSpec()).products if p.cloud_key)
        url = base + "api/v0.1/Download/file?uri=" + quote(product.data_uri, safe=":/")
        with urllib.request.urlopen(
            urllib.request.Request(url, method="HEAD"), timeout=30
        ) as answer:
            assert "ETag" not in answer.headers and answer.headers["Accept-Ranges"] == "bytes"
        cloud = f"{endpoint}/stpubdata/{product.cloud_key}"
        with urllib.request.urlopen(
            urllib.request.Request(cloud, method="HEAD"), timeout=30
        ) as answer:
            assert int(answer.headers["Content-Length"]) == product.size
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    mast_line = next(line for line in err.decode().splitlines() if "MAST at" in line)
    assert mast_line.endswith("(12 observations, 97 products, 29.1 MiB; S3 bucket stpubdata)")
