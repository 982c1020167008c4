"""The simulator's S3 side: moto serving the archive's files under their paths, readable
without a signature; the fault proxy in front; ``skyhaul sim --s3``."""

from __future__ import annotations

import http.client
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import typer
from obstore import get
from obstore.store import S3Store
from typer.testing import CliRunner

from skyhaul.cli.sim_cmd import sim
from skyhaul.errors import ConfigError
from skyhaul.sim import SimConfig, profile
from skyhaul.sim.archive import build_archive
from skyhaul.sim.s3_thread import S3SimThread

BUCKET = "skyhaul-sim-tests"


@pytest.fixture(scope="module")
def s3(sim_root: Path) -> Iterator[S3SimThread]:
    with S3SimThread(SimConfig(archive=profile("small"), root=sim_root), bucket=BUCKET) as sim:
        yield sim


def _get(endpoint: str, bucket: str, key: str, method: str = "GET") -> tuple[int, bytes]:
    """An unsigned path-style request, as any HTTP client can make."""
    request = urllib.request.Request(f"{endpoint}/{bucket}/{quote(key)}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_every_archive_file_is_an_object_under_its_path(s3: S3SimThread, sim_root: Path) -> None:
    archive = build_archive(profile("small"))
    objects = s3.objects()
    assert [o.key for o in objects] == [f.path for f in archive.files]
    for obj in objects[:5]:
        status, body = _get(s3.endpoint, s3.bucket, obj.key)
        assert status == 200
        assert body == obj.version.disk_path.read_bytes()
        assert obj.url == f"s3://{BUCKET}/{obj.key}"
    status, _ = _get(s3.endpoint, s3.bucket, objects[0].key, method="HEAD")
    assert status == 200


def test_change_object_uploads_new_content_with_a_new_etag(s3: S3SimThread) -> None:
    before = s3.objects()[1]
    after = s3.change_object(before.key)
    assert after.etag != before.etag
    assert after.version.generation == before.version.generation + 1
    status, body = _get(s3.endpoint, s3.bucket, before.key)
    assert status == 200
    assert body == after.version.disk_path.read_bytes() != before.version.disk_path.read_bytes()
    assert s3.objects()[1].etag == after.etag
    with pytest.raises(KeyError):
        s3.change_object("raw/no/such.fits")


def test_the_proxy_drops_bodies_and_answers_slowdown(s3: S3SimThread) -> None:
    key = s3.objects()[2].key
    try:
        s3.set_faults(drop_after=100)
        with pytest.raises(http.client.IncompleteRead) as cut:
            _get(s3.endpoint, s3.bucket, key)
        assert len(cut.value.partial) == 100
        s3.set_faults(drop_after=None, p503=1.0)
        status, body = _get(s3.endpoint, s3.bucket, key)
        assert status == 503
        assert b"<Code>SlowDown</Code>" in body
        # moto's own endpoint never faults.
        assert _get(s3.moto_endpoint, s3.bucket, key)[0] == 200
    finally:
        s3.set_faults(drop_after=None, p503=0.0)
    assert _get(s3.endpoint, s3.bucket, key)[0] == 200
    snapshot = s3.stats.snapshot()
    assert snapshot.dropped >= 1
    assert snapshot.by_status.get(503, 0) >= 1


@pytest.mark.parametrize("knob", ["ignore_range", "change_every", "no_digest"])
def test_knobs_only_a_file_server_honours_are_refused(s3: S3SimThread, knob: str) -> None:
    value: object = True if knob != "change_every" else 3
    with pytest.raises(ConfigError, match=f"{knob} is not supported by the S3 simulator"):
        s3.set_faults(**{knob: value})
    assert s3.faults.ignore_range is False


def test_stopping_removes_the_bucket_so_the_name_can_be_used_again(sim_root: Path) -> None:
    config = SimConfig(archive=profile("small"), root=sim_root)
    with S3SimThread(config, bucket="skyhaul-sim-reused") as first:
        endpoint = first.moto_endpoint
        key = first.objects()[0].key
    with pytest.raises(OSError):
        _get(endpoint, "skyhaul-sim-reused", key)  # moto stopped: nothing listens
    with S3SimThread(config, bucket="skyhaul-sim-reused") as second:
        assert _get(second.endpoint, second.bucket, key)[0] == 200


_WRAPPER = (
    "import sys, typer; from skyhaul.cli.sim_cmd import sim\n"
    "if sys.argv[1] == 'no-moto': sys.modules['moto'] = None\n"
    "app = typer.Typer(); app.command()(sim); app(sys.argv[2:])"
)


def _start(mode: str, args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, mode, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "100"},
    )


def _lines(process: subprocess.Popen[bytes], count: int, timeout: float = 60.0) -> list[str]:
    """The first ``count`` stdout lines, read from the pipe itself (no buffer to hide one)."""
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
    return [line + "\n" for line in seen.decode().split("\n")[:count]]


def test_sim_s3_prints_the_endpoint_serves_unsigned_and_stops_on_sigterm(sim_root: Path) -> None:
    process = _start("moto", ["--profile", "small", "--root", str(sim_root), "--s3"])
    try:
        first, second = _lines(process, 2)
        assert first.startswith("skyhaul-sim serving http://127.0.0.1:")
        assert first.endswith(" (24 files, 1.7 MiB)\n")
        words = second.split()
        assert words[:2] == ["skyhaul-sim", "s3"] and words[3:] == ["bucket", "skyhaul-sim"]
        endpoint = words[2]
        assert endpoint.startswith("http://127.0.0.1:")
        path = build_archive(profile("small")).files[0].path
        store = S3Store(
            "skyhaul-sim",
            endpoint=endpoint,
            skip_signature=True,
            client_options={"allow_http": True},
        )
        data = bytes(get(store, path).bytes())
        http_url = first.split()[2]
        with urllib.request.urlopen(f"{http_url}files/{quote(path)}", timeout=30) as answer:
            assert data == answer.read()
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err


def test_sim_s3_without_moto_is_one_line_and_exit_2(sim_root: Path) -> None:
    process = _start("no-moto", ["--profile", "small", "--root", str(sim_root), "--s3"])
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert out == b""
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("skyhaul: error: the S3 simulator needs moto[s3]")


@pytest.mark.parametrize("faults", [[], ["--p503", "0.1"]], ids=["moto", "proxy"])
def test_a_taken_s3_port_is_one_line_and_exit_2(sim_root: Path, faults: list[str]) -> None:
    app = typer.Typer()
    app.command()(sim)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        args = ["--profile", "small", "--root", str(sim_root), "--s3", "--s3-port", port]
        result = CliRunner().invoke(app, [*args, "--s3-bucket", "skyhaul-sim-port", *faults])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("skyhaul: error: ")
    assert "address already in use" in result.output
    assert "skyhaul-sim serving" not in result.output
