"""``skyhaul.Client``: the synchronous API, also from inside a running event loop."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import skyhaul
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import Selection, Slot, TransferOptions
from skyhaul.errors import ConfigError, UsageError
from skyhaul.sim import FaultConfig, SimConfig, SimThread, profile


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimThread]:
    root = tmp_path_factory.mktemp("client-sim")
    with SimThread(SimConfig(archive=profile("small"), root=root)) as running:
        yield running


@pytest.fixture
def client(sim: SimThread, tmp_path: Path) -> Iterator[skyhaul.Client]:
    sim.set_faults(FaultConfig())
    config = tmp_path / "skyhaul.toml"
    config.write_text(f'[sources.sim]\ntype = "sim"\nurl = "{sim.base_url}"\n')
    with skyhaul.Client(catalog=f"sqlite:///{tmp_path / 'c.db'}", config=config) as made:
        yield made
    sim.set_faults(FaultConfig())


def _instrument(sim: SimThread) -> str:
    return sim.files[0].version.file.instrument


def test_download_by_observation_returns_how_many_were_downloaded(
    client: skyhaul.Client, sim: SimThread, tmp_path: Path
) -> None:
    instrument = _instrument(sim)
    start, end = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)
    expected = [
        f
        for f in sim.files
        if f.version.file.instrument == instrument
        and f.version.file.obs_start < end
        and f.version.file.obs_end > start
    ]
    assert expected, "the small archive has files of that instrument that day"
    assert client.download_files_by_observation(instrument, start, end) == len(expected)
    for f in expected:
        assert (tmp_path / "data" / "sim" / f.path).stat().st_size == f.size
    # Idempotent: nothing is eligible the second time.
    assert client.download_files_by_observation(instrument, start, end) == 0


def test_download_by_downlink_and_by_slots(client: skyhaul.Client, sim: SimThread) -> None:
    slot = sim.slots[0]
    in_slot = [f for f in sim.files if slot.start <= f.version.file.downlink_time < slot.end]
    got = client.download_files_by_slots(None, [Slot(slot.slot, slot.start, slot.end)])
    assert got == len(in_slot)
    rest = client.download_files_by_downlink(None, "2024-01-01", "2025-01-01")
    assert got + rest == len(sim.files)
    assert client.download_files_by_slots(None, []) == 0


def test_get_downloaded_files_by_time(client: skyhaul.Client, sim: SimThread) -> None:
    before = datetime.now(UTC)
    client.download_files_by_downlink(None, "2024-01-01", "2025-01-01")
    after = datetime.now(UTC)
    instrument = _instrument(sim)
    found = client.get_downloaded_files_by_time(instrument, before, after)
    assert {r.path for r in found} == {
        f.path for f in sim.files if f.version.file.instrument == instrument
    }
    assert all(r.state is FileState.DOWNLOADED for r in found)
    assert client.get_downloaded_files_by_time(instrument, "2020-01-01", "2020-01-02") == []


def test_usable_inside_a_running_event_loop(client: skyhaul.Client, sim: SimThread) -> None:
    async def notebook_cell() -> int:
        return client.download_files_by_downlink(None, "2024-01-01", "2025-01-01")

    assert asyncio.run(notebook_cell()) == len(sim.files)


def test_cancel_event_stops_in_flight_work_promptly_and_keeps_it_resumable(
    client: skyhaul.Client, sim: SimThread
) -> None:
    sim.set_faults(FaultConfig(bandwidth=64 * 1024))
    cancel = threading.Event()
    outcome: list[int] = []
    worker = threading.Thread(
        target=lambda: outcome.append(
            client.download_files_by_downlink(None, "2024-01-01", "2025-01-01", cancel)
        )
    )
    worker.start()
    deadline = time.monotonic() + 30
    while sim.stats.snapshot().bytes_sent == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    cancel.set()
    stopped_at = time.monotonic()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert time.monotonic() - stopped_at < 2.0
    assert client.last_result.summary.interrupted
    counts = client.catalog.status_summary()
    assert counts[FileState.DOWNLOADING].count == 0  # released, resumable
    sim.set_faults(FaultConfig())
    remaining = client.download_files_by_downlink(None, "2024-01-01", "2025-01-01")
    assert outcome[0] + remaining == len(sim.files)


def test_recover_stale_files(client: skyhaul.Client, tmp_path: Path) -> None:
    from skyhaul.core.model import FileSpec

    now = datetime(2026, 1, 1, tzinfo=UTC)
    client.catalog.register(
        [FileSpec(url="http://x/a", path="a", instrument="EUI")], str(tmp_path), now=now
    )
    client.catalog.claim_batch("gone", 1, now=now, lease_seconds=5)
    assert client.recover_stale_files(now, instrument="PHI") == 0
    assert client.recover_stale_files("2026-01-01T00:00:04Z", instrument="EUI") == 0
    assert client.recover_stale_files("2026-01-01T00:00:06Z", instrument="EUI") == 1
    failed = client.catalog.list_files(Selection(states=frozenset({FileState.FAILED})))
    assert [r.path for r in failed] == ["a"]


def test_bad_input_is_a_usage_error(client: skyhaul.Client, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="before start"):
        client.download_files_by_observation("EUI", "2024-03-02", "2024-03-01")
    with pytest.raises(UsageError, match="not an ISO 8601"):
        client.download_files_by_observation("EUI", "yesterday", "2024-03-01")
    with pytest.raises(ConfigError, match="no source named 'nope'"):
        skyhaul.Client(catalog=f"sqlite:///{tmp_path / 'x.db'}", source="nope")


#: A script that calls the Client where an event loop runs (or none does), and prints
#: what ``last_result`` holds when Ctrl-C reaches it.
INTERRUPTED_SCRIPT = """
import asyncio, json, sys
import skyhaul

catalog, config, mode = sys.argv[1:]
client = skyhaul.Client(catalog=catalog, config=config)

def download():
    try:
        client.download_files_by_downlink(None, "2024-01-01", "2025-01-01")
    except KeyboardInterrupt:
        print(json.dumps(client.last_result.summary.as_json()), flush=True)
        raise

async def cell():
    download()

if mode == "asyncio.run":
    asyncio.run(cell())
elif mode == "run_until_complete":
    asyncio.new_event_loop().run_until_complete(cell())
else:
    download()
"""


@pytest.mark.parametrize("mode", ["asyncio.run", "run_until_complete", "no loop"])
def test_ctrl_c_cancels_a_download_within_2_s_and_keeps_its_result(
    sim: SimThread, tmp_path: Path, mode: str
) -> None:
    sim.set_faults(FaultConfig(bandwidth=64 * 1024, latency=0.05))
    config = tmp_path / "skyhaul.toml"
    config.write_text(f'[sources.sim]\ntype = "sim"\nurl = "{sim.base_url}"\n')
    catalog = f"sqlite:///{tmp_path / 'c.db'}"
    before = sim.stats.snapshot().bytes_sent
    child = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_SCRIPT, catalog, str(config), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while sim.stats.snapshot().bytes_sent == before:  # the download is under way
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.01)
        child.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        stdout, stderr = child.communicate(timeout=30)
        took = time.monotonic() - signalled
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
        sim.set_faults(FaultConfig())
    assert took < 2.0, f"{took:.1f} s after Ctrl-C; {stderr}"
    assert child.returncode in (-signal.SIGINT, 130), stderr
    assert "KeyboardInterrupt" in stderr
    summary = json.loads(stdout)
    assert summary["interrupted"] is True
    assert summary["downloaded"] < len(sim.files)
    with skyhaul.Client(catalog=catalog, config=config) as again:
        counts = again.catalog.status_summary()
        assert counts[FileState.DOWNLOADING].count == 0  # every file resumable
        assert again.download_files_by_downlink(None, "2024-01-01", "2025-01-01") == (
            len(sim.files) - summary["downloaded"]
        )


def test_find_files_and_fits_headers_read_what_fits_metadata_stored(
    sim: SimThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.set_faults(FaultConfig())
    config = tmp_path / "skyhaul.toml"
    config.write_text(f'[sources.sim]\ntype = "sim"\nurl = "{sim.base_url}"\n')
    options = TransferOptions(fits_metadata=True)
    with skyhaul.Client(f"sqlite:///{tmp_path / 'c.db'}", config, options=options) as client:
        assert client.download_files_by_downlink(None, "2024-01-01", "2025-01-01") == len(sim.files)
        instrument = _instrument(sim)
        mine = [f.path for f in sim.files if f.version.file.instrument == instrument]
        found = client.find_files({"INSTRUME": instrument.lower()})
        assert sorted(r.path for r in found) == sorted(mine)
        assert client.find_files(f"INSTRUME={instrument}", state="downloaded") == found
        assert client.find_files([f"INSTRUME={instrument}"], state=["FAILED"]) == []
        assert len(client.find_files("TELESCOP=SOLO", limit=3)) == 3
        first = found[0]
        document = client.fits_headers(first.id)
        assert document["values"]["INSTRUME"] == instrument.upper()
        assert document["hdus"][0]["name"] == "PRIMARY"
        monkeypatch.chdir(first.dest_root)
        assert client.fits_headers(Path(first.path)) == document
        with pytest.raises(UsageError, match="unknown key 'COLOUR'"):
            client.find_files({"COLOUR": "red"})
        with pytest.raises(UsageError, match="unknown state"):
            client.find_files("TELESCOP=SOLO", state="done")
        with pytest.raises(UsageError, match="no file 9999 in the catalog"):
            client.fits_headers(9999)
