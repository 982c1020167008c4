"""The records gate: its own token bucket with Retry-After, then the token check."""

from __future__ import annotations

import base64

import pytest

from skyhaul.sim.decisions import Refusal
from skyhaul.sim.records_config import RecordsConfig
from skyhaul.sim.records_gate import CHALLENGE, RecordsGate, authorizes


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_no_knobs_admit_everything() -> None:
    gate = RecordsGate(RecordsConfig(), now=0.0)
    assert all(gate.refusal(None, 0.0) is None for _ in range(1000))


def test_burst_then_429_with_whole_seconds_until_the_next_token() -> None:
    gate = RecordsGate(RecordsConfig(rate=0.25, burst=2), now=100.0)
    assert [gate.refusal(None, 100.0) for _ in range(3)] == [None, None, None]
    assert gate.refusal(None, 100.0) == Refusal(429, "rate-limited", {"Retry-After": "4"})
    assert gate.refusal(None, 101.5) == Refusal(429, "rate-limited", {"Retry-After": "3"})
    assert gate.refusal(None, 103.9) == Refusal(429, "rate-limited", {"Retry-After": "1"})
    assert gate.refusal(None, 104.0) is None  # refused requests took nothing


def test_retry_after_is_at_least_one_second() -> None:
    gate = RecordsGate(RecordsConfig(rate=50.0, burst=0), now=0.0)
    assert gate.refusal(None, 0.0) is None
    refusal = gate.refusal(None, 0.0)
    assert refusal is not None and refusal.headers == {"Retry-After": "1"}


def test_configuring_refills_the_bucket() -> None:
    gate = RecordsGate(RecordsConfig(rate=0.001, burst=0), now=0.0)
    assert gate.refusal(None, 0.0) is None
    assert gate.refusal(None, 0.0) is not None
    gate.configure(RecordsConfig(rate=0.001, burst=0), now=0.0)
    assert gate.refusal(None, 0.0) is None
    gate.configure(RecordsConfig(), now=0.0)
    assert gate.refusal(None, 0.0) is None


def test_token_required_when_set() -> None:
    gate = RecordsGate(RecordsConfig(token="s3cret"), now=0.0)
    assert gate.refusal(None, 0.0) == Refusal(401, "unauthorized", {"WWW-Authenticate": CHALLENGE})
    assert gate.refusal("Bearer s3cret", 0.0) is None
    assert gate.refusal(_basic("anyone", "s3cret"), 0.0) is None
    assert gate.refusal("Bearer wrong", 0.0) is not None


def test_the_rate_limit_comes_before_authentication() -> None:
    gate = RecordsGate(RecordsConfig(rate=0.001, burst=1, token="s3cret"), now=0.0)
    assert gate.refusal(None, 0.0) == Refusal(401, "unauthorized", {"WWW-Authenticate": CHALLENGE})
    assert gate.refusal("Bearer s3cret", 0.0) is None
    refusal = gate.refusal("Bearer s3cret", 0.0)
    assert refusal is not None and refusal.status == 429


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("Bearer s3cret", True),
        ("bearer   s3cret ", True),
        (_basic("user", "s3cret"), True),
        (_basic("", "s3cret"), True),
        (_basic("s3cret", ""), False),
        ("Basic !!!not-base64!!!", False),
        ("Basic " + base64.b64encode(b"\xff:\xfe").decode(), False),
        ("Token s3cret", False),
        ("s3cret", False),
        ("", False),
        (None, False),
    ],
)
def test_authorizes(header: str | None, accepted: bool) -> None:
    assert authorizes(header, "s3cret") is accepted
