"""Hosts' window decisions in the catalog: one row per host, the newest decision wins.

Runs on SQLite and PostgreSQL (the ``catalog`` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.windowchange import HostDecision

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _decision(
    host: str, window: int, rate: float | None, at: datetime, by: str = "w1"
) -> HostDecision:
    return HostDecision(host, window, rate, f"reason {window}", at, by)


def test_a_decision_round_trips(catalog: Catalog) -> None:
    assert catalog.host_windows() == {}
    assert catalog.host_window("archive.example:443") is None
    decision = _decision("archive.example:443", 4, 19.5, T0)
    catalog.record_host_window(decision)
    assert catalog.host_window("archive.example:443") == decision
    assert catalog.host_windows() == {"archive.example:443": decision}
    unpaced = _decision("other.example:80", 8, None, T0)
    catalog.record_host_window(unpaced)
    assert catalog.host_windows() == {"archive.example:443": decision, "other.example:80": unpaced}


def test_a_newer_decision_replaces_the_hosts_row(catalog: Catalog) -> None:
    catalog.record_host_window(_decision("h:80", 8, None, T0, by="w1"))
    newer = _decision("h:80", 2, 9.0, T0 + timedelta(seconds=1), by="w2")
    catalog.record_host_window(newer)
    assert catalog.host_windows() == {"h:80": newer}


def test_an_older_decision_written_late_changes_nothing(catalog: Catalog) -> None:
    newer = _decision("h:80", 2, 9.0, T0 + timedelta(seconds=5), by="w2")
    catalog.record_host_window(newer)
    catalog.record_host_window(_decision("h:80", 16, None, T0, by="w1"))
    assert catalog.host_window("h:80") == newer
