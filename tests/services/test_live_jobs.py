"""Jobs run inside a long-lived process (services.live_jobs): a run of a job started again
(resumed right after its cancelled run ended its job) is not forgotten when the earlier
run's task finishes."""

from __future__ import annotations

import asyncio

from skyhaul.services.live_jobs import LiveJobs


async def test_a_run_started_again_outlives_the_end_of_the_earlier_one() -> None:
    live = LiveJobs()
    release = asyncio.Event()

    async def earlier(cancel: asyncio.Event) -> None:
        await cancel.wait()
        await release.wait()  # its job already ended; its task is still finishing

    async def again(cancel: asyncio.Event) -> None:
        await cancel.wait()

    first = live.start(7, earlier, None)
    live.cancel(7)
    second = live.start(7, again, None)  # resumed: the job runs here again
    release.set()
    assert first.task is not None
    await first.task
    assert live.running_here(7) and live.ids() == [7]
    assert live.cancel(7)  # reaches the run that goes on
    assert second.task is not None
    async with asyncio.timeout(5):
        await second.task
    assert not live.running_here(7)
