"""``skyhaul sim``: its URL line, its signals, its one-line errors."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from skyhaul.cli.sim_cmd import sim

_WRAPPER = (
    "import typer; from skyhaul.cli.sim_cmd import sim; "
    "app = typer.Typer(); app.command()(sim); app()"
)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(sim)
    return app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--p503", "2"], "--p503: a probability must be between 0 and 1"),
        (["--latency", "soon"], "--latency: cannot read"),
        (["--rate-limit", "0"], "--rate-limit: must be greater than zero"),
        (["--fail-path", "raw/x.fits"], "--fail-path: expected PATH=STATUS"),
        (["--port", "99999"], "--port: must be at most 65535"),
        (["--profile", "huge"], "unknown archive profile 'huge'"),
        (["--files", "3"], "--files and --size go together"),
        (["--files", "2", "--size", "1 parsec"], "--size: unknown size unit"),
        (["--kind", "zip"], "--kind: must be fits or blob"),
        (["--records-rate", "fast"], "--records-rate: cannot read"),
        (["--records-burst", "1.5"], "--records-burst: expected a whole number"),
        (["--records-gap", "150%"], "--records-gap: a probability must be between 0 and 1"),
        (["--records-no-data-day", "2024-02-30"], "--records-no-data-day: expected a YYYY-MM-DD"),
        (["--records-malformed-day", "soon"], "--records-malformed-day: expected a YYYY-MM-DD"),
        (["--sensors", "0"], "--sensors: must be at least 1"),
        (["--cadence", "0s"], "--cadence: must be at least 1ms"),
        (
            ["--records-token-env", "SKYHAUL_TEST_SURELY_UNSET"],
            "--records-token-env: environment variable 'SKYHAUL_TEST_SURELY_UNSET' is not set",
        ),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("skyhaul: error: ")
    assert message in lines[0]


def _start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "100", **(env or {})},
    )


def _first_line(process: subprocess.Popen[str], timeout: float = 30.0) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
    assert ready, "no URL line before the deadline"
    return process.stdout.readline()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_prints_the_url_serves_and_stops_cleanly(
    sim_root: Path, tmp_path: Path, signum: signal.Signals
) -> None:
    url_file = tmp_path / "url.txt"
    args = ["--profile", "small", "--root", str(sim_root), "--url-file", str(url_file)]
    process = _start([*args, "--p503", "0"])
    try:
        line = _first_line(process)
        prefix, rest = line.split(" (", 1)
        assert prefix.startswith("skyhaul-sim serving http://127.0.0.1:")
        assert rest == "24 files, 1.7 MiB)\n"
        url = prefix.removeprefix("skyhaul-sim serving ")
        assert url.endswith("/")
        assert url_file.read_text() == url + "\n"
        with urllib.request.urlopen(url + "api/slots", timeout=10) as response:
            assert response.status == 200
    finally:
        process.send_signal(signum)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err


def test_exact_size_blobs(sim_root: Path) -> None:
    process = _start(["--files", "3", "--size", "64KiB", "--root", str(sim_root)])
    try:
        assert "(3 files, 0.2 MiB)" in _first_line(process)
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_a_taken_port_is_one_line_and_exit_2(sim_root: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = CliRunner().invoke(
            _app(), ["--profile", "small", "--root", str(sim_root), "--port", port]
        )
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("skyhaul: error: ")
    assert "address already in use" in result.output


def test_records_options(sim_root: Path) -> None:
    args = ["--profile", "small", "--root", str(sim_root), "--sensors", "2", "--cadence", "10s"]
    args += ["--records-rate", "20", "--records-burst", "5", "--records-gap", "0%"]
    args += ["--records-no-data-day", "2024-01-03", "--records-no-data-day", "2024-01-04"]
    args += ["--records-malformed-day", "2024-01-05", "--records-token-env", "SIM_TOKEN"]
    process = _start(args, env={"SIM_TOKEN": "s3cret"})
    try:
        url = _first_line(process).split(" ")[2]
        window = "2024-01-01T00:00:00Z..2024-01-01T00:01:00Z"
        request = urllib.request.Request(
            f"{url}api/records?sensor=ALL&obTime={window}",
            headers={"Authorization": "Bearer s3cret"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            records = json.loads(response.read())
        assert len(records) == 2 * 2 * 6
        assert {r["idSensor"] for r in records} == {"REACH-150", "REACH-151"}
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{url}api/records?obTime={window}", timeout=10)
        assert caught.value.code == 401
        caught.value.close()
        with urllib.request.urlopen(url + "_sim/faults", timeout=10) as response:
            shown = json.loads(response.read())
        assert shown["records_no_data_days"] == ["2024-01-03", "2024-01-04"]
        assert (shown["records_rate"], shown["records_malformed_days"]) == (20.0, ["2024-01-05"])
        assert "s3cret" not in json.dumps(shown)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "s3cret" not in err
