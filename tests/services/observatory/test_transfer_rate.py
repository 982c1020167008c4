"""A transfer's rate limit (``--max-rate``): it waits after each chunk until the move is
no faster than the rate, on the injected clock."""

from __future__ import annotations

from skyhaul.services.clock import Clock
from skyhaul.services.observatory.transfer import rate_limit


class FakeTime:
    """A monotonic clock that moves only when slept on (or told to)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_a_move_waits_to_stay_under_its_rate() -> None:
    time = FakeTime()
    pace = rate_limit(1000.0, Clock(monotonic=time.monotonic, sleep=time.sleep))
    assert pace is not None
    for _ in range(3):
        await pace(500)
    assert time.slept == [0.5, 0.5, 0.5]
    time.now += 2.0  # the storage was slow: no wait while behind the rate
    await pace(500)
    assert len(time.slept) == 3


def test_no_rate_means_no_pacing() -> None:
    assert rate_limit(None, Clock()) is None
