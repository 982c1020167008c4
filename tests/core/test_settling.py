"""Settling: a file is due once unchanged for the settle time; each change restarts it."""

from __future__ import annotations

from skyhaul.core.settling import Settling


def test_a_file_is_due_once_unchanged_for_the_settle_time() -> None:
    settling = Settling(3.0)
    settling.changed("a", at=0.0)
    assert settling.next_due() == 3.0
    assert settling.due(2.9) == []
    assert settling.due(3.0) == ["a"]
    assert settling.due(10.0) == [] and settling.next_due() is None


def test_each_change_starts_the_wait_again() -> None:
    settling = Settling(3.0)
    settling.changed("a", at=0.0)
    settling.changed("a", at=2.0)
    assert settling.due(3.5) == []
    assert settling.due(5.0) == ["a"]


def test_files_come_out_in_the_order_they_settled() -> None:
    settling = Settling(1.0)
    settling.changed("late", at=0.5)
    settling.changed("early", at=0.0)
    settling.changed("waiting", at=9.0)
    assert settling.due(2.0) == ["early", "late"]
    assert len(settling) == 1 and settling.next_due() == 10.0
