"""SimThread from synchronous code, with the standard library's HTTP client."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from skyhaul.sim import ArchiveSpec, FaultConfig, SimConfig, SimThread


def _fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def test_serves_from_a_thread(small_config: SimConfig) -> None:
    with SimThread(small_config) as sim:
        assert sim.base_url.startswith("http://127.0.0.1:")
        entry = sim.files[0]
        status, body = _fetch(entry.url)
        assert status == 200 and hashlib.sha256(body).hexdigest() == entry.sha256
        assert _fetch(entry.url, {"Range": "bytes=0-9"}) == (206, body[:10])
        assert sim.stats.snapshot().by_status == {200: 1, 206: 1}
        status, listing = _fetch(sim.base_url + "api/files")
        assert len(json.loads(listing)) == len(sim.archive.files)


def test_faults_change_live(small_config: SimConfig) -> None:
    with SimThread(small_config) as sim:
        url = sim.files[0].url
        assert _fetch(url)[0] == 200
        assert sim.set_faults(p503=1.0).p503 == 1.0
        assert _fetch(url)[0] == 503
        sim.set_faults(FaultConfig())
        assert _fetch(url)[0] == 200
        assert sim.faults == FaultConfig()


def test_change_file_and_stop(small_config: SimConfig) -> None:
    with SimThread(small_config) as sim:
        entry = sim.files[1]
        changed = sim.change_file(entry.path)
        assert changed.version.generation == 1
        _status, body = _fetch(entry.url)
        assert hashlib.sha256(body).hexdigest() == changed.sha256
        url = sim.base_url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=5)


def test_start_errors_surface(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    config = SimConfig(archive=ArchiveSpec.exact(1, 10), root=blocker)
    with pytest.raises(OSError), SimThread(config):
        pass
