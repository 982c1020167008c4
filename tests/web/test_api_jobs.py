"""``/api/jobs`` in-process: listing and reading jobs, bad ids, the event streams of a job
and of the list, cancel (of a job run here, of one run by another process, of a finished
one) and resume, with imports from the simulator's MAST side run inside the server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from tests.web.mast_fixtures import (
    TESS,
    Web,
    mast_sim,
    module_mast_sim,
    parse_events,
    read_events,
    wait_job,
    web,
    web_settings,
)

from skyhaul.core.jobs import JobKind, JobState
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import Selection
from skyhaul.sim.thread import SimThread
from skyhaul.web.app import end_streams

__all__ = ["mast_sim", "module_mast_sim", "web", "web_settings"]  # the fixtures

#: A process of another host: its lease is all that says it is alive.
ELSEWHERE = "elsewhere.example:4242:0123abcd"


async def _import(web: Web) -> int:
    answer = await web.client.post("/api/mast/import", json={"obs_ids": [TESS], "source": "http"})
    assert answer.status_code == 200, answer.text
    job_id: int = answer.json()["job_id"]
    return job_id


def _file_states(web: Web, job_id: int) -> dict[FileState, int]:
    ids = tuple(web.catalog.job_file_ids(job_id))
    counts: dict[FileState, int] = {}
    for record in web.catalog.list_files(Selection(ids=ids)):
        counts[record.state] = counts.get(record.state, 0) + 1
    return counts


async def test_jobs_are_listed_read_and_filtered(web: Web, mast_sim: SimThread) -> None:
    assert (await web.client.get("/api/jobs")).json() == []
    job_id = await _import(web)
    await wait_job(web.client, job_id, JobState.SUCCEEDED)
    listed = (await web.client.get("/api/jobs")).json()
    assert [(j["id"], j["kind"], j["state"]) for j in listed] == [(job_id, "import", "succeeded")]
    assert (await web.client.get("/api/jobs", params={"state": "running"})).json() == []
    found = await web.client.get("/api/jobs", params={"state": ["succeeded", "failed"]})
    assert [j["id"] for j in found.json()] == [job_id]
    job = (await web.client.get(f"/api/jobs/{job_id}")).json()
    assert job["summary"]["downloaded"] == 4
    assert job["progress"]["files_done"] == job["progress"]["files_total"] == 4


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/jobs/999", 404, "no job 999"),
        ("/api/jobs/999/events", 404, "no job 999"),
        ("/api/jobs/abc", 400, "job_id"),
        ("/api/jobs/1.5", 400, "job_id"),
        ("/api/jobs?state=sleeping", 400, "state"),
        ("/api/jobs?limit=0", 400, "limit"),
        ("/api/jobs?limit=x", 400, "limit"),
    ],
)
async def test_unknown_and_bad_ids_are_refused(
    web: Web, path: str, status: int, message: str
) -> None:
    answer = await web.client.get(path)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]


@pytest.mark.parametrize(("action", "status"), [("cancel", 404), ("resume", 404)])
async def test_cancel_or_resume_of_no_job_is_404(web: Web, action: str, status: int) -> None:
    answer = await web.client.post(f"/api/jobs/999/{action}")
    assert answer.status_code == status
    assert answer.json() == {"error": "no job 999"}


async def test_a_finished_jobs_stream_is_its_snapshot_then_end(
    web: Web, mast_sim: SimThread
) -> None:
    job_id = await _import(web)
    done = await wait_job(web.client, job_id, JobState.SUCCEEDED)
    events = await read_events(web.client, f"/api/jobs/{job_id}/events")
    assert [e.name for e in events] == ["job", "end"]
    assert events[0].data == done


async def test_a_running_jobs_stream_follows_it_to_its_end(web: Web, mast_sim: SimThread) -> None:
    job_id = await _import(web)
    events = await read_events(web.client, f"/api/jobs/{job_id}/events")
    names = [e.name for e in events]
    assert names[-1] == "end" and set(names[:-1]) == {"job"}
    jobs = [e.data for e in events[:-1]]
    assert jobs[0]["state"] in ("queued", "running") and jobs[-1]["state"] == "succeeded"
    assert [int(e.id or 0) for e in events[:-1]] == list(range(1, len(jobs) + 1))
    final = jobs[-1]["progress"]
    assert final["files_done"] == final["files_total"] == 4
    assert jobs[-1] == (await web.client.get(f"/api/jobs/{job_id}")).json()


async def test_the_list_stream_ends_when_the_server_stops(web: Web, mast_sim: SimThread) -> None:
    listing = asyncio.ensure_future(web.client.get("/api/jobs/events", params={"limit": 5}))
    async with asyncio.timeout(10):
        # The hub has no event saying a follower came.
        while web.server.hub.followers("jobs:5") == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await end_streams(web.app)
        answer = await listing
    assert answer.status_code == 200
    # Ended (at most the first list came out before): a stopping server is not held.
    assert {(e.name, tuple(e.data)) for e in parse_events(answer.text)} <= {("jobs", ())}


async def test_cancel_stops_a_job_run_here_and_resume_finishes_it(
    web: Web, mast_sim: SimThread
) -> None:
    mast_sim.set_faults(bandwidth=4000)  # about 25 s for the whole import
    job_id = await _import(web)
    ends = asyncio.get_running_loop().time() + 20
    while True:
        job = await wait_job(web.client, job_id, JobState.RUNNING)
        if job["progress"] and job["progress"]["bytes_done"] > 0:
            break
        assert asyncio.get_running_loop().time() < ends, job
        await asyncio.sleep(0.02)
    assert job["live"] is True and job["progress"]["in_flight"]
    again = await web.client.post(f"/api/jobs/{job_id}/resume")
    assert again.status_code == 400
    assert "only a failed, cancelled or interrupted job resumes" in again.json()["error"]

    stop = await web.client.post(f"/api/jobs/{job_id}/cancel")
    assert stop.status_code == 200, stop.text
    assert stop.json() == {"id": job_id, "cancel_requested": True}
    cancelled = await wait_job(web.client, job_id, JobState.CANCELLED, deadline=10)
    assert cancelled["live"] is False
    states = _file_states(web, job_id)
    assert FileState.DOWNLOADING not in states and states.get(FileState.DOWNLOADED, 0) < 4
    assert states.get(FileState.DISCOVERED, 0) >= 1  # left to resume

    mast_sim.set_faults(bandwidth=None)
    resumed = await web.client.post(f"/api/jobs/{job_id}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json() == {"id": job_id, "resumed": True}
    done = await wait_job(web.client, job_id, JobState.SUCCEEDED)
    assert _file_states(web, job_id) == {FileState.DOWNLOADED: 4}
    assert done["progress"]["files_done"] == done["progress"]["files_total"] == 4
    refused = await web.client.post(f"/api/jobs/{job_id}/cancel")
    assert refused.status_code == 400
    assert refused.json() == {
        "error": f"job {job_id} is succeeded: only a queued or running job stops"
    }


async def test_cancel_of_a_job_run_elsewhere_sets_the_catalog_flag(web: Web) -> None:
    now = datetime.now(UTC)
    job_id = web.catalog.create_job(JobKind.GET, {"via": "python"}, now=now)
    assert web.catalog.start_job(job_id, ELSEWHERE, now=now, lease_seconds=600)
    answer = await web.client.post(f"/api/jobs/{job_id}/cancel")
    assert answer.status_code == 200, answer.text
    record = web.catalog.get_job(job_id)
    assert record is not None and record.cancel_requested and record.state is JobState.RUNNING
    job = (await web.client.get(f"/api/jobs/{job_id}")).json()
    assert (job["state"], job["cancel_requested"], job["live"]) == ("running", True, False)
    resume = await web.client.post(f"/api/jobs/{job_id}/resume")
    assert resume.status_code == 400
