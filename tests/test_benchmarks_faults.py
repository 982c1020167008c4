"""Fault runs (h) and kill runs (k): the pure parts, with no server, simulator or timed run.

(h) must give each fault case the issue's targets (at most 2x skyhaul's own fault-free
time and no slower than aria2c with 503s or drops; every file verified in every case);
(k) must count the bytes sent twice and state its targets against aria2c's better
setting and one segment per file. The helpers they rest on (a listing offered to every
client, bytes on disk, nginx's log of bytes sent, a kill on a condition) are checked here.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

from benchmarks import bench_faults, bench_kill
from benchmarks.datasets import Dataset, count_ok, offer, offer_listing
from benchmarks.procs import Measurement, allocated_bytes, run_killed_when
from benchmarks.results import ClientResult, RunRecord, ScenarioResult
from benchmarks.servers import NginxServer

MiB = 1 << 20


def _client(name: str, wall: float, ok: int = 10, catalog: int | None = 10) -> ClientResult:
    run = RunRecord(0, Measurement(wall, wall, 0, False), ok, catalog_downloaded=catalog)
    return ClientResult(name, "cmd", 10, (run,))


def _section(**clients: ClientResult) -> ScenarioResult:
    return ScenarioResult("h", "t", "d", clients=dict(clients))


def test_fault_cases_follow_the_issue() -> None:
    small, mixed = bench_faults.cases(quick=False)
    assert (small.count, small.size) == (1000, 64 << 10)
    assert [c.key for c in small.cases] == ["fault-free", "5% 503", "5% drops"]
    assert small.cases[1].knobs == {"p503": 0.05}
    assert small.cases[2].knobs["p_drop"] == 0.05
    assert (mixed.count, mixed.size) == (400, 2 * MiB)
    assert mixed.cases[0].knobs["bandwidth"] == 2 * MiB
    assert {"p503", "p_drop", "corrupt"} <= set(mixed.cases[0].knobs)
    quick = bench_faults.cases(quick=True)
    assert all(q.count < f.count for q, f in zip(quick, (small, mixed), strict=True))
    assert small.args == ["--files=1000", "--size=65536", "--kind=blob"]


def test_fault_clients_retry_503_and_verify_and_take_the_base() -> None:
    keys = [c.key for c in bench_faults.clients("skyhaul@abc")]
    assert keys == ["skyhaul", "skyhaul@abc", "aria2c"]
    aria2c = bench_faults.clients(None)[-1]
    assert "--retry-wait=1" in aria2c.name and "--max-tries=" in aria2c.name


def test_fault_targets_compare_with_fault_free_and_aria2c() -> None:
    sections = {
        "fault-free": _section(skyhaul=_client("s", 1.0)),
        "5% 503": _section(skyhaul=_client("s", 1.9), aria2c=_client("a", 2.0)),
        "5% drops": _section(skyhaul=_client("s", 2.5), aria2c=_client("a", 2.0)),
        "mixed": _section(skyhaul=_client("s", 9.0, ok=9), aria2c=_client("a", 1.0)),
    }
    checks = bench_faults.targets(sections)
    assert [c.verdict for c in checks["fault-free"]] == ["met"]
    assert [c.verdict for c in checks["5% 503"]] == ["met", "met", "met"]
    assert [c.verdict for c in checks["5% drops"]] == ["missed", "met"]  # vs aria2c: 503s only
    assert "fault-free" in checks["5% drops"][0].text
    assert [c.verdict for c in checks["mixed"]] == ["missed"]  # one file wrong, no time target


def test_fault_targets_need_the_catalog_too() -> None:
    sections = {"fault-free": _section(skyhaul=_client("s", 1.0, catalog=9))}
    assert bench_faults.targets(sections)["fault-free"][0].verdict == "missed"


def test_listing_is_offered_under_url_basenames(tmp_path: Path) -> None:
    listing = [
        {"url": f"http://h/files/raw/A/2024/f_{i}.bin", "size": 4, "sha256": "0" * 64}
        for i in range(3)
    ]
    offered = offer_listing(listing, tmp_path, stem="sim", checksums=True)
    assert [e.name for e in offered.entries] == ["f_0.bin", "f_1.bin", "f_2.bin"]
    assert offered.url_list.read_text().split() == [str(e["url"]) for e in listing]
    with offered.manifest.open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0] == {
        "url": "http://h/files/raw/A/2024/f_0.bin",
        "path": "f_0.bin",
        "size": "4",
        "checksum": "sha256:" + "0" * 64,
    }
    assert offered.dataset.count == 3 and offered.dataset.size == 4
    twice = [*listing, {"url": "http://h/files/raw/B/f_0.bin", "size": 4, "sha256": "1" * 64}]
    try:
        offer_listing(twice, tmp_path, stem="sim", checksums=True)
    except ValueError as error:
        assert "basename" in str(error)
    else:
        raise AssertionError("two files with one basename were accepted")


def test_a_dataset_can_be_offered_under_another_location(tmp_path: Path) -> None:
    dataset = Dataset("large", 2, 1024)
    plain = offer(dataset, tmp_path / "srv", tmp_path / "a", "http://h", checksums=True)
    paced = offer(
        dataset, tmp_path / "srv", tmp_path / "b", "http://h", checksums=True, url_location="paced"
    )
    assert plain.urls[0] == "http://h/files/large-2x1024/large-0.bin"
    assert paced.urls[0] == "http://h/paced/large-2x1024/large-0.bin"
    assert paced.entries == plain.entries  # the same files on disk
    assert count_ok(paced, tmp_path / "srv" / "files" / "large-2x1024") == 2


def test_refetch_is_what_was_sent_twice() -> None:
    assert bench_kill.refetched(140 * MiB, 140 * MiB, 256 * MiB) == 24 * MiB
    assert bench_kill.refetched(100, 100, 300) == 0


def test_the_worst_file_is_the_one_sent_most_beyond_its_size() -> None:
    sizes = {"/paced/a": 100, "/paced/b": 100, "/paced/c": 100}
    first = {"/paced/a": 60, "/paced/b": 50}
    rerun = {"/paced/a": 45, "/paced/b": 58, "/paced/c": 100}
    assert bench_kill.worst_file(first, rerun, sizes) == 8
    assert bench_kill.worst_file({}, {}, {}) == 0


def _kill(
    tool: str, refetch_mib: int, *, killed: bool = True, ok: int = 4, worst_mib: int | None = None
) -> bench_kill.KillRun:
    total = 256 * MiB
    return bench_kill.KillRun(
        tool=tool,
        name=tool,
        repetition=0,
        total=total,
        on_disk=total // 2,
        first_sent=total // 2,
        rerun_sent=total // 2 + refetch_mib * MiB,
        killed=killed,
        first_code=-9,
        rerun_code=0,
        rerun_wall=1.0,
        files_ok=ok,
        catalog_downloaded=ok if tool.startswith("skyhaul") else None,
        worst_file=None if worst_mib is None else worst_mib * MiB,
    )


def test_kill_targets_use_aria2c_better_setting_and_one_segment_per_file() -> None:
    runs = [
        _kill("skyhaul", 20, worst_mib=6),
        _kill("aria2c", 150),
        _kill("aria2c/auto-save-interval=1", 24),
    ]
    assert [c.verdict for c in bench_kill.targets(runs)] == ["met", "met", "met"]
    assert "auto-save-interval=1" in bench_kill.targets(runs)[0].detail
    worse = [_kill("skyhaul", 30, worst_mib=8), _kill("aria2c/auto-save-interval=1", 24)]
    assert [c.verdict for c in bench_kill.targets(worse)] == ["missed", "met", "met"]
    heavy = [_kill("skyhaul", 40, worst_mib=12), _kill("aria2c", 150)]
    assert [c.verdict for c in bench_kill.targets(heavy)] == ["met", "missed", "met"]
    spread = [_kill("skyhaul", 20, worst_mib=7), _kill("aria2c", 150)]
    unknown = [_kill("skyhaul", 20), _kill("aria2c", 150)]  # all 20 MiB may be one file's
    assert bench_kill.targets(unknown)[1].verdict == "missed"
    assert [c.verdict for c in bench_kill.targets(spread)] == ["met", "met", "met"]
    assert "worst file 7.0 MiB" in bench_kill.targets(spread)[1].detail
    assert "0.13x" in bench_kill.targets(spread)[0].detail
    unkilled = [_kill("skyhaul", 0, killed=False), _kill("aria2c", 150)]
    assert bench_kill.targets(unkilled)[0].verdict == "missed"
    assert bench_kill.targets([_kill("skyhaul", 1, ok=3)])[2].verdict == "missed"
    assert {c.verdict for c in bench_kill.targets([_kill("aria2c", 1)])} == {"n/a"}


def test_kill_pairs_resume_aria2c_with_c_and_compare_the_base() -> None:
    pairs = bench_kill.pairs("skyhaul@abc")
    assert [first.key for first, _ in pairs] == [
        "skyhaul",
        "skyhaul@abc",
        "aria2c",
        "aria2c/auto-save-interval=1",
    ]
    for first, again in pairs:
        assert first.key == again.key
        if first.tool == "aria2c":
            assert again.name == f"{first.name} -c"
        else:
            assert again is first
    ratio = bench_kill.base_ratio([_kill("skyhaul", 10), _kill("skyhaul@abc", 20)], "skyhaul@abc")
    assert list(ratio.values()) == ["10.0 MiB / 20.0 MiB = 0.50"]


def test_allocated_bytes_counts_what_was_written_not_file_sizes(tmp_path: Path) -> None:
    sparse = tmp_path / "deep" / "f.part"
    sparse.parent.mkdir()
    with sparse.open("wb") as handle:
        handle.truncate(8 * MiB)
        handle.seek(4 * MiB)
        handle.write(os.urandom(1 * MiB))
        handle.flush()
        os.fsync(handle.fileno())
    counted = allocated_bytes(tmp_path)
    assert 1 * MiB <= counted < 8 * MiB
    assert allocated_bytes(tmp_path / "missing") == 0


def test_nginx_paced_log_adds_up_bytes_sent_since_a_mark_and_per_path(tmp_path: Path) -> None:
    server = NginxServer("nginx", tmp_path)  # not started: only its log is read
    try:
        assert server.paced_sent_since(server.paced_mark()) == 0
        server.paced_log.write_text("100 /paced/a.bin\n250 /paced/b.bin\n")
        mark = server.paced_mark()
        with server.paced_log.open("a") as handle:
            handle.write("7 /paced/a.bin\n0 /paced/b.bin\n3 /paced/a.bin\n")
        assert server.paced_sent_since(0) == 360
        assert server.paced_sent_since(mark) == 10
        assert server.paced_sent_by_path(0) == {"/paced/a.bin": 110, "/paced/b.bin": 250}
    finally:
        server.__exit__(None, None, None)


def test_run_killed_when_kills_as_soon_as_told(tmp_path: Path) -> None:
    flag = tmp_path / "started"
    script = f"import pathlib, time; pathlib.Path({str(flag)!r}).touch(); time.sleep(30)"
    measured, killed = run_killed_when(
        [sys.executable, "-c", script],
        when=flag.exists,
        poll=0.01,
        timeout=20,
        stdout=tmp_path / "out",
        stderr=tmp_path / "err",
    )
    assert killed and measured.returncode == -9 and measured.wall < 10
    measured, killed = run_killed_when(
        [sys.executable, "-c", "pass"],
        when=lambda: False,
        poll=0.01,
        timeout=20,
        stdout=tmp_path / "out",
        stderr=tmp_path / "err",
    )
    assert not killed and measured.returncode == 0
