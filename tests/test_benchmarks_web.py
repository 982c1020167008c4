"""The web load benchmark's own judgement: reading the event stream, rates and targets."""

from __future__ import annotations

import asyncio
import json

import pytest
from benchmarks import bench_web
from benchmarks.procs import stat_busy_ticks, stat_cpu_seconds
from benchmarks.sse_follow import EventCounter, Followed, push_rate
from benchmarks.web_figures import (
    PUSH_RATE,
    Usage,
    WebRun,
    cost_per_event,
    paired_ratios,
    targets,
)

MiB = 1 << 20


def _job(state: str, version: int) -> bytes:
    data = json.dumps({"id": 7, "state": state})
    return f"id: {version}\nevent: job\ndata: {data}\n\n".encode()


def test_counter_counts_messages_cut_anywhere_and_keeps_the_last_state() -> None:
    stream = (
        b"retry: 1000\n\n"
        + _job("running", 1)
        + b": keep-alive\n\n"
        + _job("running", 2)
        + _job("succeeded", 3).replace(b"\n", b"\r\n")
        + b"event: end\ndata: {}\n\n"
    )
    counter = EventCounter()
    for at, cut in enumerate(range(0, len(stream), 7)):  # cuts fall inside lines
        counter.feed(stream[cut : cut + 7], now=float(at))
    assert counter.counts == {"job": 3, "end": 1}
    assert counter.received == len(stream)
    assert counter.last_job is not None and json.loads(counter.last_job)["state"] == "succeeded"
    assert counter.first_job_at is not None and counter.last_job_at is not None
    assert counter.first_job_at < counter.last_job_at
    # A message without its blank line yet is not counted.
    counter.feed(_job("running", 4)[:-1], now=99.0)
    assert counter.counts["job"] == 3


def test_push_rate_counts_what_came_after_the_first_snapshot() -> None:
    assert push_rate(9, first=10.0, last=12.0) == 4.0
    assert push_rate(1, first=10.0, last=10.0) is None
    assert push_rate(3, first=None, last=12.0) is None


def test_cpu_seconds_are_read_past_a_command_name_with_spaces_and_parentheses() -> None:
    fields = ["S"] + ["0"] * 10 + ["250", "50"] + ["0"] * 30  # utime, stime: fields 14, 15
    line = "4242 (sky haul) (x)) " + " ".join(fields)
    assert stat_cpu_seconds(line, 100) == pytest.approx(3.0)


def test_machine_busy_ticks_leave_out_idle_and_iowait() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice
    assert stat_busy_ticks("cpu  100 1 20 5000 7 2 3 4 50 0") == 100 + 1 + 20 + 2 + 3 + 4
    later = Usage(server=3.0, sim=2.0, harness=0.5, machine=7.0)
    used = later - Usage(server=1.0, sim=1.0, harness=0.0, machine=2.0)
    assert used == Usage(2.0, 1.0, 0.5, 5.0)
    assert used.others == pytest.approx(1.5)


def _followed(state: str = "succeeded", *, ended: bool = True, rate: float = 3.8) -> Followed:
    return Followed(200, 40, ended, 80_000, state, rate)


def _run(
    followers: int,
    engine_wall: float,
    *,
    seen: Followed | None = None,
    cpu: float = 5.0,
    repetition: int = 0,
    case: str = "fast",
) -> WebRun:
    followed = tuple(seen or _followed() for _ in range(followers))
    return WebRun(
        case=case,
        repetition=repetition,
        followers=followers,
        state="succeeded",
        files=(2, 2),
        bytes=100 * MiB,
        job_wall=engine_wall + 0.5,
        engine_wall=engine_wall,
        window=10.0,
        cpu=Usage(server=cpu, sim=6.0, harness=1.0, machine=14.0),
        followed=followed,
    )


def test_rates_delivered_are_per_second_of_the_window() -> None:
    run = _run(50, 10.0)
    assert run.throughput == pytest.approx(10.0)
    assert run.events_per_second == pytest.approx(50 * 40 / 10.0)
    assert run.bytes_per_second == pytest.approx(50 * 80_000 / 10.0)
    assert run.complete == 50
    # 50 followers x 40 messages for 1 s more of the server's CPU: 0.5 ms a message.
    assert cost_per_event([_run(0, 10.0), _run(50, 10.0, cpu=6.0)]) == pytest.approx(0.0005)
    assert cost_per_event([_run(0, 10.0)]) is None


def test_targets_keep_throughput_every_follower_and_the_push_rate() -> None:
    kept, ended, rate = targets([_run(0, 10.0), _run(50, 10.4)])
    assert (kept.verdict, ended.verdict, rate.verdict) == ("met", "met", "met")
    # Each case is judged on its own: a slow one misses even beside one that keeps up.
    both = [_run(0, 10.0), _run(50, 10.0), _run(0, 10.0, case="slow"), _run(50, 11, case="slow")]
    assert [t.verdict for t in targets(both)[:2]] == ["met", "missed"]
    assert "slow" in targets(both)[1].text
    # 6% slower with followers misses; so does one follower without the end or final state.
    assert targets([_run(0, 10.0), _run(50, 10.7)])[0].verdict == "missed"
    for seen in (_followed(ended=False), _followed("running")):
        assert targets([_run(0, 10.0), _run(50, 10.0, seen=seen)])[1].verdict == "missed"
    slow = _followed(rate=0.7 * PUSH_RATE)
    assert targets([_run(0, 10.0), _run(50, 10.0, seen=slow)])[2].verdict == "missed"
    assert [t.verdict for t in targets([_run(0, 10.0)])] == ["n/a", "n/a", "n/a"]
    assert [t.verdict for t in targets([])] == ["n/a", "n/a", "n/a"]


def test_throughput_is_compared_within_each_repetition() -> None:
    runs = [
        _run(0, 10.0, repetition=0),
        _run(50, 10.0, repetition=0),
        _run(0, 20.0, repetition=1),  # the machine got busy: both runs of the pair slow
        _run(50, 20.0, repetition=1),
        _run(0, 10.0, repetition=2),
        _run(50, 12.5, repetition=2),
    ]
    assert [ratio for ratio, _ in paired_ratios(runs)] == pytest.approx([1.0, 1.0, 0.8])
    assert paired_ratios(runs)[0][1] == pytest.approx(0.2)  # (14 - 5 - 6 - 1) / 10 s
    assert targets(runs)[0].verdict == "met"
    assert paired_ratios([_run(0, 10.0, repetition=0), _run(50, 10.0, repetition=1)]) == []


async def test_a_follower_still_reading_after_the_grace_missed_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bench_web, "END_GRACE_S", 0.01)

    async def ended() -> Followed:
        return _followed()

    async def stuck() -> Followed:
        await asyncio.Event().wait()
        raise AssertionError("never set")

    tasks = [asyncio.ensure_future(ended()), asyncio.ensure_future(stuck())]
    seen = await bench_web._ends(tasks)
    assert [f.ended for f in seen] == [True, False]
    assert seen[1].error and tasks[1].cancelled()
