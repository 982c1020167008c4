"""GateRegistry: one gate per host, whatever the path, case, credentials or query."""

from __future__ import annotations

import asyncio

import pytest

from skyhaul.errors import ThrottledError
from skyhaul.services.hostgate import GateRegistry

DEADLINE = 10.0


def _registry() -> GateRegistry:
    return GateRegistry(8, clock=lambda: 0.0)


def test_urls_of_one_host_share_one_gate() -> None:
    gates = _registry()
    first = gates.for_url("https://archive.example:8443/a/b.fits")
    assert gates.for_url("https://archive.example:8443/c.fits?x=1") is first
    assert gates.for_url("https://ARCHIVE.example:8443/d.fits") is first
    assert gates.for_url("https://user:secret@archive.example:8443/e.fits") is first
    assert first.controller.host == "archive.example:8443"


def test_other_ports_and_hosts_get_their_own_gates() -> None:
    gates = _registry()
    a = gates.for_url("http://archive.example/a")
    assert gates.for_url("http://archive.example:8080/a") is not a
    assert gates.for_url("http://mirror.example/a") is not a


def test_urls_without_a_path_find_their_host() -> None:
    gates = _registry()
    bare = gates.for_url("http://archive.example")
    assert gates.for_url("http://archive.example?page=2") is bare
    assert gates.for_url("http://archive.example/listing") is bare


async def test_a_request_is_refused_at_once_while_the_host_pauses_past_max_pause() -> None:
    # Retry-After: 99999999 once held every other file of the host for 3 years.
    now = [100.0]
    gate = GateRegistry(8, clock=lambda: now[0], max_pause=600.0).for_url("http://h/a")
    started = await gate.acquire()
    gate.release(started, ThrottledError("HTTP 429", retry_after=99999999.0, status=429))
    with pytest.raises(ThrottledError) as caught:
        await asyncio.wait_for(gate.acquire(), DEADLINE)
    assert caught.value.retry_after == 99999999.0
    assert str(caught.value) == (
        "h: paused for 1157d09h (Retry-After), longer than the 10m00s a run waits"
    )
    assert gate.in_flight == 0
