"""``skyhaul get`` of s3:// URLs against the simulator's S3 (unsigned, ``AWS_ENDPOINT_URL_S3``),
and of a manifest whose files have an HTTP mirror, with the S3 side stopped mid-run."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import Result

from skyhaul.adapters.catalog import open_catalog
from skyhaul.sim import SimConfig, SimThread, profile
from skyhaul.sim.s3_thread import S3SimThread

Invoke = Callable[..., Result]
States = Callable[[], dict[str, int]]
KIB = 1024


@pytest.fixture(scope="module")
def s3(sim_cache: Path) -> Iterator[S3SimThread]:
    """The ``small`` archive on S3: the same bytes the HTTP simulator serves."""
    config = SimConfig(archive=profile("small"), root=sim_cache)
    with S3SimThread(config, bucket="skyhaul-cli-tests") as running:
        yield running


def _aws_env(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """Point the AWS environment at ``endpoint``, with no credentials (unsigned)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    monkeypatch.setenv("AWS_SKIP_SIGNATURE", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


def test_get_an_s3_url_downloads_and_verifies_it(
    skyhaul: Invoke,
    sim: SimThread,
    s3: S3SimThread,
    tmp_path: Path,
    states: States,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _aws_env(monkeypatch, s3.endpoint)
    f = sim.files[3]  # the HTTP simulator's copy: what the bytes must be
    url = s3.url_for(f.path)
    result = skyhaul("get", url, "-d", "files", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["downloaded"], summary["failed"], summary["abandoned"]) == (1, 0, 0)
    data = (tmp_path / "files" / f.path.rsplit("/", 1)[1]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == f.sha256
    assert states() == {"DOWNLOADED": 1}
    assert s3.stats.snapshot().bytes_by_path[f.path] >= f.size


def test_s3_stopped_mid_run_every_file_arrives_over_its_http_mirror(
    sim: SimThread,
    sim_cache: Path,
    tmp_path: Path,
    catalog_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = sim.files
    total = sum(f.size for f in files)
    config = SimConfig(archive=profile("small"), root=sim_cache)
    # Its own simulator, with its own bucket: this test stops it.
    with S3SimThread(config, bucket="skyhaul-cli-stopped") as s3:
        _aws_env(monkeypatch, s3.endpoint)
        manifest = tmp_path / "manifest.csv"
        with manifest.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["url", "mirrors", "path", "size", "checksum"])
            for f in files:
                row = [s3.url_for(f.path), f.url, f.path, f.size, f"sha256:{f.sha256}"]
                writer.writerow(row)
        s3.set_faults(bandwidth=128 * KIB)  # slow enough to stop it a quarter in
        command = [
            sys.executable, "-c", "from skyhaul.cli.app import main; main()",
            "get", "-i", str(manifest), "-d", "files", "-j", "4", "--no-progress", "--json",
            "--segment-size", "64KiB", "--max-attempts", "2",
        ]  # fmt: skip
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while s3.stats.snapshot().bytes_sent < total // 4:
                assert child.poll() is None, child.communicate()
                assert time.monotonic() < deadline, "S3 served too little"
                time.sleep(0.02)
            s3.stop()  # the proxy and moto go away, connections and all
            stdout, stderr = child.communicate(timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert child.returncode == 0, stderr
    summary = json.loads(stdout)
    assert (summary["downloaded"], summary["failed"], summary["abandoned"]) == (len(files), 0, 0)
    for f in files:
        data = (tmp_path / "files" / f.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256
    with open_catalog(catalog_url) as catalog:
        served = {
            r.path: [dict(a.sources) for a in catalog.attempts(r.id)] for r in catalog.list_files()
        }
    # One attempt each: the move to HTTP happened within it.
    assert all(len(attempts) == 1 for attempts in served.values()), served
    from_s3 = {p for p, [a] in served.items() if any(u.startswith("s3://") for u in a)}
    from_http = {p for p, [a] in served.items() if any(u.startswith("http") for u in a)}
    assert from_s3 and from_http and from_s3 | from_http == {f.path for f in files}


def test_a_command_that_read_s3_always_exits_with_its_own_code(
    sim: SimThread, s3: S3SimThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # obstore's Rust runtime can abort the interpreter while it finalizes (a known race of
    # pyo3's tokio runtime): the work is done, but the exit code would say SIGABRT.
    _aws_env(monkeypatch, s3.endpoint)
    url = s3.url_for(sim.files[0].path)
    codes = []
    for run in range(12):
        done = subprocess.run(
            [sys.executable, "-m", "skyhaul.cli.app", "get", url, "-d", str(tmp_path / f"f{run}"),
             "--catalog", f"sqlite:///{tmp_path / f'c{run}.db'}", "--no-progress"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        codes.append(done.returncode)
    assert codes == [0] * 12
