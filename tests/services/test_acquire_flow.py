"""The mission flow against a real simulator: discovery, rediscovery of changed files,
stale recovery by lease (not by start time), and the watch loop."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.config import SourceConfig
from skyhaul.adapters.sources import ListingQuery, Source, build_source
from skyhaul.core.jobparams import options_to_json
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import Selection, TransferOptions
from skyhaul.core.window import TimeWindow
from skyhaul.services.acquire import Discovery, acquire, run_download
from skyhaul.services.discovery import discover_into
from skyhaul.services.watch import CycleReport, WatchPlan, watch
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.thread import SimThread

ALL_TIME = TimeWindow(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
FAST = TransferOptions(concurrency=8, retry_base_delay=0.01, retry_max_delay=0.05)


def sim_source(sim: SimThread, tmp_path: Path) -> Source:
    config = SourceConfig(
        name="sim",
        type="sim",
        options={"url": sim.base_url},
        dest=tmp_path / "data",
        base_dir=tmp_path,
        where="test: sources.sim",
    )
    return build_source(config)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def states(catalog: Catalog) -> dict[FileState, int]:
    return {s: t.count for s, t in catalog.status_summary().items() if t.count}


async def test_rediscovery_counts_known_and_flags_a_changed_file(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    source = sim_source(sim, tmp_path)
    dest = str(tmp_path / "data")
    query = ListingQuery(ALL_TIME)
    first = await discover_into(catalog, source, query, dest)
    assert (first.new, first.known, first.changed) == (len(sim.files), 0, 0)
    summary = await run_download(catalog, FAST)
    assert summary.downloaded == len(sim.files)

    victim = sim.files[0]
    changed = sim.change_file(victim.path)
    again = await discover_into(catalog, source, query, dest)
    await source.aclose()
    assert (again.new, again.known, again.changed) == (0, len(sim.files) - 1, 1)
    [record] = catalog.list_files(Selection(states=frozenset({FileState.DISCOVERED})))
    assert record.path == victim.path
    assert record.remote_version == changed.version.etag

    summary = await run_download(catalog, FAST)
    assert summary.downloaded == 1
    assert sha256_of(tmp_path / "data" / victim.path) == changed.sha256


async def test_a_slow_live_download_is_not_recovered_as_stale(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    """Lease 1 s, a file that takes about 4 s: heartbeats keep it; a concurrent stale
    sweep every 0.25 s (another cycle's) never takes it; one attempt, DOWNLOADED."""
    target = max(sim.files, key=lambda f: f.size)
    sim.set_faults(FaultConfig(bandwidth=max(1, target.size // 4)))
    source = sim_source(sim, tmp_path)
    await discover_into(catalog, source, ListingQuery(ALL_TIME), str(tmp_path / "data"))
    await source.aclose()
    [record] = catalog.list_files(Selection(url_prefix=target.url))
    options = TransferOptions(lease_seconds=1.0, segment_size=64 * 1024 * 1024)
    download = asyncio.ensure_future(
        run_download(catalog, options, selection=Selection(ids=(record.id,)))
    )
    recovered = []
    while not download.done():
        now = datetime.now(UTC)
        recovered.append(await asyncio.to_thread(catalog.recover_stale, now=now))
        await asyncio.wait([download], timeout=0.25)
    summary = download.result()
    assert summary.seconds > 3, "the file must take longer than several leases"
    assert sum(recovered) == 0
    assert summary.downloaded == 1
    final = catalog.get(record.id)
    assert final is not None and final.state is FileState.DOWNLOADED
    assert final.attempts == 1
    assert [a.outcome for a in catalog.attempts(record.id)] == ["downloaded"]
    assert sha256_of(tmp_path / "data" / target.path) == target.sha256


async def test_an_expired_lease_is_recovered(catalog: Catalog, tmp_path: Path) -> None:
    from skyhaul.core.model import FileSpec

    now = datetime(2026, 1, 1, tzinfo=UTC)
    catalog.register([FileSpec(url="http://x/a", path="a")], str(tmp_path), now=now)
    [claimed] = catalog.claim_batch("dead-worker", 1, now=now, lease_seconds=2)
    assert catalog.recover_stale(now=now + timedelta(seconds=1)) == 0
    assert catalog.recover_stale(now=now + timedelta(seconds=3)) == 1
    record = catalog.get(claimed.id)
    assert record is not None and record.state is FileState.FAILED


async def test_acquire_discovers_then_downloads_only_the_selection(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    instrument = sim.files[0].version.file.instrument
    wanted = [f for f in sim.files if f.version.file.instrument == instrument]
    source = sim_source(sim, tmp_path)
    result = await acquire(
        catalog,
        FAST,
        Selection(instrument=instrument),
        discovery=Discovery(
            source, ListingQuery(ALL_TIME, instrument=instrument), str(tmp_path / "data")
        ),
    )
    await source.aclose()
    assert result.discovery is not None and result.discovery.new == len(wanted)
    assert result.summary.downloaded == len(wanted)
    assert states(catalog) == {FileState.DOWNLOADED: len(wanted)}


async def test_watch_picks_up_files_as_the_archive_publishes_them(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    downlinks = sorted(f.version.file.downlink_time for f in sim.files)
    cut = downlinks[len(downlinks) // 2]
    sim.publish_until(cut)
    published_first = sum(1 for d in downlinks if d <= cut)
    source = sim_source(sim, tmp_path)
    reports: list[CycleReport] = []

    def advance(report: CycleReport) -> None:
        reports.append(report)
        if report.number == 1:
            sim.publish_until(None)  # the next passes bring the rest down

    plan = WatchPlan(
        source=source,
        dest_root=str(tmp_path / "data"),
        every=0.0,
        start=ALL_TIME.start,
        cycles=3,
    )
    done = await watch(catalog, FAST, plan, on_cycle=advance)
    await source.aclose()
    assert len(done) == 3
    first, second, third = (r.discovery for r in reports)
    assert first is not None and second is not None and third is not None
    assert (first.new, second.new, third.new) == (
        published_first,
        len(downlinks) - published_first,
        0,
    )
    assert [r.summary.downloaded for r in reports] == [
        published_first,
        len(downlinks) - published_first,
        0,
    ]
    assert "cycle 2: listed" in reports[1].line()
    assert states(catalog) == {FileState.DOWNLOADED: len(downlinks)}


async def test_watch_goes_on_when_a_listing_fails(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    sim.set_faults(FaultConfig(faults_on_api=True, fail_paths={"/api/files": 500}))
    source = sim_source(sim, tmp_path)
    plan = WatchPlan(
        source=source, dest_root=str(tmp_path), every=0.0, start=ALL_TIME.start, cycles=2
    )
    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    source._client._sleep = no_sleep  # type: ignore[attr-defined]  # retries without waiting
    reports = await watch(catalog, FAST, plan)
    await source.aclose()
    assert [r.discovery for r in reports] == [None, None]
    assert all("HTTP 500" in (r.listing_error or "") for r in reports)
    assert "listing failed" in reports[0].line()
    # Each cycle's job failed (its listing did), with the error in its summary.
    jobs = [catalog.get_job(r.job_id or 0) for r in reports]
    assert [j.state if j else None for j in jobs] == [JobState.FAILED] * 2
    assert all("HTTP 500" in (j.summary or {}).get("listing_error", "") for j in jobs if j)


async def test_each_watch_cycle_is_a_job(sim: SimThread, catalog: Catalog, tmp_path: Path) -> None:
    source = sim_source(sim, tmp_path)
    config = tmp_path / "skyhaul.toml"
    moments = iter([datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, 0, 5, tzinfo=UTC)])
    plan = WatchPlan(
        source=source,
        dest_root=str(tmp_path / "data"),
        every=0.0,
        lookback=timedelta(days=1),
        instrument="EUI",
        by="observation",
        cycles=2,
        config=config,
    )
    reports = await watch(catalog, FAST, plan, now=lambda: next(moments))
    await source.aclose()
    jobs = catalog.list_jobs()
    assert [j.id for j in reversed(jobs)] == [r.job_id for r in reports]
    assert [(j.kind, j.state) for j in jobs] == [(JobKind.WATCH_CYCLE, JobState.SUCCEEDED)] * 2
    first = jobs[-1]
    assert first.params == {
        "source": "sim",
        "config": str(config.resolve()),
        "start": "2029-12-31T00:00:00+00:00",
        "end": "2030-01-01T00:00:00+00:00",
        "instrument": "EUI",
        "by": "observation",
        "dest_root": str(tmp_path / "data"),
        "cycle": 1,
        "options": options_to_json(FAST),
    }
    assert jobs[0].params["start"] == "2029-12-31T00:05:00+00:00"
    assert first.summary == reports[0].as_json() and first.summary["job"] == first.id
    assert first.progress is not None
    assert reports[1].line().endswith(f"; job {jobs[0].id}")


async def test_watch_stops_promptly_when_cancelled(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    source = sim_source(sim, tmp_path)
    cancel = asyncio.Event()
    plan = WatchPlan(source=source, dest_root=str(tmp_path), every=3600.0, start=ALL_TIME.start)
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(
        watch(catalog, FAST, plan, cancel=cancel, on_cycle=lambda r: loop.call_soon(cancel.set))
    )
    reports = await asyncio.wait_for(task, timeout=30)  # not the hour of --every
    await source.aclose()
    assert len(reports) == 1


@pytest.mark.parametrize("by", ["observation", "downlink"])
async def test_listing_by_either_time(
    sim: SimThread, catalog: Catalog, tmp_path: Path, by: str
) -> None:
    files = sim.files
    times = sorted(
        f.version.file.obs_start if by == "observation" else f.version.file.downlink_time
        for f in files
    )
    window = TimeWindow(times[0], times[len(times) // 2])
    source = sim_source(sim, tmp_path)
    specs = await source.list_files(ListingQuery(window, by=by))  # type: ignore[arg-type]
    await source.aclose()
    if by == "downlink":
        expected = {f.url for f in files if window.contains(f.version.file.downlink_time)}
    else:
        expected = {
            f.url
            for f in files
            if window.overlaps(f.version.file.obs_start, f.version.file.obs_end)
        }
    assert {s.url for s in specs} >= expected
