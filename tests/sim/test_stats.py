from __future__ import annotations

import threading

from skyhaul.sim import SimStats


def test_counters_and_snapshot() -> None:
    stats = SimStats()
    stats.record_request("GET", ranged=True)
    stats.record_request("HEAD", ranged=False)
    stats.record_status(206)
    stats.record_status(429)
    stats.record_bytes("raw/a.fits", 100)
    stats.record_bytes("raw/a.fits", 50)
    stats.record_event("dropped")
    snap = stats.snapshot()
    assert snap.requests == 2
    assert snap.by_method == {"GET": 1, "HEAD": 1}
    assert snap.by_status == {206: 1, 429: 1}
    assert snap.rate_limited == 1 and snap.ranged == 1 and snap.dropped == 1
    assert snap.bytes_sent == 150 and snap.bytes_by_path == {"raw/a.fits": 150}
    assert snap.to_json()["by_status"] == {"206": 1, "429": 1}
    stats.reset()
    assert stats.snapshot().requests == 0 and stats.bytes_sent == 0


def test_the_most_requests_open_at_once() -> None:
    stats = SimStats()
    for delta in (1, 1, -1, 1, 1, -1, -1, -1, 1):
        stats.record_open(delta)
    assert stats.snapshot().peak_open == 3
    assert stats.snapshot().to_json()["peak_open"] == 3


def test_updates_from_many_threads() -> None:
    stats = SimStats()

    def hammer() -> None:
        for _ in range(1000):
            stats.record_request("GET", ranged=False)
            stats.record_bytes("p", 1)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stats.requests == 4000 and stats.bytes_sent == 4000
