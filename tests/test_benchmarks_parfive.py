"""parfive with both splittings and (b20): the pure parts of issue 13, section 5 (1, 2).

(b) and wherever parfive runs must show parfive with its default splitting and tuned for
small files, each under its own key; the 2x target is stated against the faster of the
two; (b20) runs the same clients at 20,000 files. No server, no timed run.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import compare, peers
from benchmarks.datasets import Dataset, FileEntry, Offered
from benchmarks.peers import PARFIVE_TUNED, Job
from benchmarks.procs import Measurement
from benchmarks.results import ClientResult, RunRecord, fastest
from benchmarks.run import SCENARIOS, _selection
from benchmarks.scenarios import transfer_scenarios
from benchmarks.tools import Tool
from benchmarks.transfer_runs import runnable_clients


def _result(name: str, wall: float, ok: int = 10, total: int = 10) -> ClientResult:
    run = RunRecord(0, Measurement(wall, wall, 0, False), ok, catalog_downloaded=ok)
    return ClientResult(name, "cmd", total, (run,))


def _job(tmp_path: Path) -> Job:
    entries = (FileEntry("f-0.bin", 3, "ab" * 32), FileEntry("f-1.bin", 3, "cd" * 32))
    offered = Offered(
        Dataset("f", 2, 3),
        entries,
        tmp_path / "urls.txt",
        tmp_path / "manifest.csv",
        ("http://h/f-0.bin", "http://h/f-1.bin"),
    )
    (tmp_path / "scratch").mkdir()
    return Job(offered, tmp_path / "out", tmp_path / "scratch")


def test_parfive_default_and_tuned_have_their_own_keys_and_flags(tmp_path: Path) -> None:
    job = _job(tmp_path)
    default, tuned = peers.parfive(16), peers.parfive(16, max_splits=1)
    assert (default.key, tuned.key) == ("parfive", PARFIVE_TUNED)
    assert tuned.dirname == "parfive-max_splits=1"
    assert default.argv("py", job)[-2:] == ["--max-conn=16", "--max-splits=5"]
    assert tuned.argv("py", job)[-1] == "--max-splits=1"
    assert "max_splits=1" in tuned.name


def test_every_scenario_with_parfive_runs_both_splittings() -> None:
    for quick in (True, False):
        for scenario in transfer_scenarios(quick=quick):
            keys = [c.key for c in scenario.clients]
            assert len(keys) == len(set(keys)), scenario.key
            if "parfive" in keys:
                assert PARFIVE_TUNED in keys, scenario.key


def test_b20_is_b_at_20000_files_with_the_same_clients() -> None:
    full = {s.key: s for s in transfer_scenarios(quick=False)}
    quick = {s.key: s for s in transfer_scenarios(quick=True)}
    assert full["b20"].dataset.count == 20_000
    assert full["b20"].dataset.size == full["b"].dataset.size
    assert quick["b20"].dataset.count < 20_000
    assert [c.key for c in full["b20"].clients] == [c.key for c in full["b"].clients]
    assert {"b20", "h", "k"} <= set(SCENARIOS)
    assert _selection("b20,H,k") == {"b20", "h", "k"}


def test_fastest_prefers_the_peer_setting_with_more_files_per_second() -> None:
    results = {"parfive": _result("p5", 4.0), PARFIVE_TUNED: _result("p1", 2.0)}
    assert fastest(results, ("parfive", PARFIVE_TUNED))[0] == "p1"
    incomplete = {"parfive": _result("p5", 4.0), PARFIVE_TUNED: _result("p1", 1.0, ok=5)}
    assert fastest(incomplete, ("parfive", PARFIVE_TUNED))[0] == "p5"
    assert fastest({}, ("parfive", PARFIVE_TUNED)) == ("parfive", None)


def test_the_2x_parfive_target_is_against_the_faster_parfive() -> None:
    (b,) = [s for s in transfer_scenarios(quick=False) if s.key == "b"]
    results = {
        "skyhaul": _result("skyhaul", 1.0),
        "parfive": _result("parfive 5", 4.0),
        PARFIVE_TUNED: _result("parfive 1", 1.5),
    }
    check = b.targets(b, results)[0]
    assert check.verdict == "missed"  # 1.5x the tuned one, though 4x the default
    assert "parfive 1" in check.detail
    results[PARFIVE_TUNED] = _result("parfive 1", 2.5)
    assert b.targets(b, results)[0].verdict == "met"


def test_base_revision_client_keeps_the_variant_and_unavailable_tools_are_skipped() -> None:
    clients = compare.with_base_clients((peers.skyhaul(16), peers.parfive(16, 1)), "skyhaul@abc")
    assert [c.key for c in clients] == ["skyhaul", "skyhaul@abc", PARFIVE_TUNED]
    assert compare.with_base_clients(clients[:1], None) == clients[:1]
    skipped: dict[str, str] = {}
    tools = {
        "skyhaul": Tool("skyhaul", "/bin/skyhaul", "1"),
        "parfive": Tool("parfive", None, "no"),
    }
    assert [c.key for c in runnable_clients(clients, tools, skipped)] == ["skyhaul"]
    assert skipped == {"skyhaul@abc": "unknown tool", "parfive": "no"}


def test_skyhaul_takes_more_flags_and_aria2c_can_carry_checksums(tmp_path: Path) -> None:
    job = _job(tmp_path)
    sky = peers.skyhaul(4, "--segment-size", "8MiB")
    argv = sky.argv("skyhaul", job)
    assert argv[argv.index("-j") + 1 : argv.index("-j") + 4] == ["4", "--segment-size", "8MiB"]
    assert sky.name == "skyhaul -j 4 --segment-size 8MiB"
    argv = peers.aria2c("-j16", checksums=True).argv("aria2c", job)
    listed = Path(argv[argv.index("-i") + 1])
    assert listed.parent == job.scratch
    assert listed.read_text() == peers.aria2c_input(job.offered)
    assert peers.aria2c_input(job.offered).splitlines() == [
        "http://h/f-0.bin",
        "  checksum=sha-256=" + "ab" * 32,
        "http://h/f-1.bin",
        "  checksum=sha-256=" + "cd" * 32,
    ]
    plain = peers.aria2c("-j16").argv("aria2c", job)
    assert plain[plain.index("-i") + 1] == str(job.offered.url_list)


def test_small_file_scenarios_run_both_aiohttp_floors(tmp_path: Path) -> None:
    for scenario in transfer_scenarios(quick=False):
        if scenario.key not in ("b", "b20"):
            continue
        by_key = {c.key: c for c in scenario.clients}
        assert {"aiohttp", "aiohttp/guarded"} <= set(by_key), scenario.key
        (tmp_path / scenario.key).mkdir()
        assert by_key["aiohttp"].argv("py", _job(tmp_path / scenario.key))[-2:] == [
            "--max-conn=16",
            "--uvloop",
        ]
    (tmp_path / "guarded").mkdir()
    job = _job(tmp_path / "guarded")
    argv = peers.guarded_loop(16).argv("py", job)
    assert argv[argv.index("benchmarks.clients.guarded_get") + 3] == str(job.scratch / "guarded.db")


def test_the_guarded_floor_keeps_the_promises_it_stands_for(tmp_path: Path) -> None:
    # The floor a client on aiohttp cannot beat while keeping skyhaul's promises must keep
    # them: every file whole under its final name, no part file left, each recorded
    # DOWNLOADED with its sha256.
    import hashlib
    import sqlite3
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler

    from benchmarks.clients import guarded_get
    from tests.loopback_http import LoopbackHTTPServer

    served = tmp_path / "served"
    served.mkdir()
    blobs = {f"f{i}.bin": bytes([i % 256]) * (1000 + i) for i in range(300)}
    for name, blob in blobs.items():
        (served / name).write_bytes(blob)
    handler = partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    with LoopbackHTTPServer(("127.0.0.1", 0), handler) as server:
        polled = {"poll_interval": 0.01}  # not 0.5 s: the shutdown below is quick
        threading.Thread(target=server.serve_forever, kwargs=polled, daemon=True).start()
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}"
            listed = tmp_path / "urls.txt"
            listed.write_text("".join(f"{base}/{name}\n" for name in blobs))
            out, catalog = tmp_path / "out", tmp_path / "catalog.db"
            assert guarded_get.main([str(listed), str(out), str(catalog), "--max-conn=4"]) == 0
        finally:
            server.shutdown()
    assert sorted(p.name for p in out.iterdir()) == sorted(blobs)
    for name, blob in blobs.items():
        assert (out / name).read_bytes() == blob
    with sqlite3.connect(catalog) as db:
        rows = dict(db.execute("SELECT url, sha256 FROM files WHERE state = 'DOWNLOADED'"))
    assert {url.rsplit("/", 1)[1]: digest for url, digest in rows.items()} == {
        name: hashlib.sha256(blob).hexdigest() for name, blob in blobs.items()
    }
