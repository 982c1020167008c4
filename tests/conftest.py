"""Fixtures every test directory shares."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

WaitFor = Callable[[Callable[[], bool], float, str], None]


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def wait_for() -> WaitFor:
    """Poll ``condition`` until it holds; fail after ``timeout`` s naming ``what``."""
    return _wait_for
