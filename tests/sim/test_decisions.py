from __future__ import annotations

from skyhaul.sim import FaultConfig
from skyhaul.sim.decisions import FaultEngine


def test_no_faults_no_decisions() -> None:
    engine = FaultEngine(FaultConfig(), now=0.0)
    assert engine.refusal("a", 0.0) is None
    assert not engine.changes("a")
    assert engine.body_plan(1000).is_clean


def test_fail_path_beats_the_rate_limit() -> None:
    engine = FaultEngine(FaultConfig(fail_paths={"a": 403}, rate_limit=1), now=0.0)
    refusal = engine.refusal("a", 0.0)
    assert refusal is not None and refusal.status == 403
    assert engine.refusal("b", 0.0) is None  # the fail path took no token
    refusal = engine.refusal("b", 0.0)
    assert refusal is not None and refusal.status == 429 and refusal.headers == {}


def test_retry_after_is_rounded_up_to_whole_seconds() -> None:
    engine = FaultEngine(FaultConfig(rate_limit=1, retry_after=1.2), now=0.0)
    engine.refusal("a", 0.0)
    refusal = engine.refusal("a", 0.0)
    assert refusal is not None and refusal.headers == {"Retry-After": "2"}
    engine.configure(FaultConfig(p503=1.0, retry_after_503=0), now=0.0)
    refusal = engine.refusal("a", 0.0)
    assert refusal is not None and refusal.status == 503
    assert refusal.headers == {"Retry-After": "0"}


def test_same_seed_same_decisions() -> None:
    def statuses(seed: int) -> list[int]:
        engine = FaultEngine(FaultConfig(seed=seed, p503=0.5), now=0.0)
        return [r.status if (r := engine.refusal("a", 0.0)) else 200 for _ in range(50)]

    assert statuses(1) == statuses(1)
    assert statuses(1) != statuses(2)
    assert 10 < statuses(1).count(503) < 40


def test_change_every_counts_admitted_requests_per_file() -> None:
    engine = FaultEngine(FaultConfig(change_every=2), now=0.0)
    assert [engine.changes("a") for _ in range(6)] == [False, False, True, False, True, False]
    assert [engine.changes("b") for _ in range(3)] == [False, False, True]
    engine.configure(FaultConfig(change_every=1), now=0.0)  # counts restart
    assert [engine.changes("a") for _ in range(3)] == [False, True, True]


def test_body_plans() -> None:
    engine = FaultEngine(FaultConfig(drop_after=100, corrupt=1.0, bandwidth=10), now=0.0)
    plan = engine.body_plan(1000)
    assert plan.drop_after == 100
    assert 1 <= len(plan.corrupt_at) <= 4
    assert all(0 <= at < 1000 for at in plan.corrupt_at)
    assert plan.bandwidth == 10 and not plan.is_clean
    assert engine.body_plan(50).drop_after is None  # a body shorter than the drop point
    assert engine.body_plan(0).corrupt_at == ()


def test_drop_probability() -> None:
    engine = FaultEngine(FaultConfig(drop_after=0, p_drop=0.5), now=0.0)
    drops = sum(engine.body_plan(10).drop_after is not None for _ in range(200))
    assert 60 < drops < 140
