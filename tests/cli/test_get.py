"""``skyhaul get`` against a real simulator and a real SQLite catalog."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import Result

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobs import JobState
from skyhaul.core.model import FileSpec
from skyhaul.sim import SimThread
from skyhaul.sim.listing import ListedFile

Invoke = Callable[..., Result]
States = Callable[[], dict[str, int]]

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SUMMARY_KEYS = {
    *("job", "downloaded", "failed", "abandoned", "bytes", "seconds", "interrupted"),
    *("failures", "unfinished", "retries", "integrity_refetched", "sources_switched"),
}


def rows_of(manifest: Path) -> list[dict[str, str]]:
    with manifest.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_get_a_manifest_downloads_every_file_verified(
    skyhaul: Invoke, manifest: Path, tmp_path: Path, states: States
) -> None:
    result = skyhaul("get", "-i", str(manifest), "-d", "files")
    assert result.exit_code == 0, result.output
    rows = rows_of(manifest)
    for row in rows:
        data = (tmp_path / "files" / row["path"]).read_bytes()
        assert len(data) == int(row["size"])
        assert "sha256:" + hashlib.sha256(data).hexdigest() == row["checksum"]
    assert not list((tmp_path / "files").rglob("*.part"))
    assert states() == {"DOWNLOADED": len(rows)}
    total = sum(int(row["size"]) for row in rows)
    assert re.search(rf"^{len(rows)} downloaded, 0 failed, 0 abandoned — ", result.stdout, re.M)
    assert f"Files:   {tmp_path / 'files'}" in result.stdout
    assert f"Catalog: {tmp_path / 'catalog.db'}" in result.stdout
    assert result.stdout.count("\n") == 3  # the summary line, files, catalog
    assert str(total) not in result.stderr  # logs are short; nothing dumped


def test_json_mode_prints_one_summary_object_and_nothing_else(
    skyhaul: Invoke, manifest: Path
) -> None:
    result = skyhaul("get", "-i", str(manifest), "-d", "files", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) == SUMMARY_KEYS
    assert isinstance(summary["job"], int)
    rows = rows_of(manifest)
    assert summary["downloaded"] == len(rows)
    assert summary["bytes"] == sum(int(row["size"]) for row in rows)
    assert (summary["failed"], summary["abandoned"], summary["failures"]) == (0, 0, [])
    assert summary["interrupted"] is False
    assert isinstance(summary["seconds"], float)


def test_second_get_downloads_nothing_and_exits_0(
    skyhaul: Invoke, manifest: Path, states: States
) -> None:
    assert skyhaul("get", "-i", str(manifest), "-d", "files").exit_code == 0
    again = skyhaul("get", "-i", str(manifest), "-d", "files", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["downloaded"] == 0
    assert "0 new, 24 already known, 0 changed" in again.stderr
    assert states() == {"DOWNLOADED": 24}


def test_get_downloads_exactly_the_files_it_names(
    skyhaul: Invoke, sim: SimThread, tmp_path: Path, catalog: Catalog, states: States
) -> None:
    first, second = (f.url for f in sim.files[:2])
    catalog.register(
        [FileSpec(url=second, path="second.fits")], str(tmp_path / "elsewhere"), now=NOW
    )
    result = skyhaul("get", first, "-d", "one", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["downloaded"] == 1
    assert (tmp_path / "one" / first.rsplit("/", 1)[1]).is_file()
    assert states() == {"DOWNLOADED": 1, "DISCOVERED": 1}
    # Named again, a file registered before and not yet done is downloaded where it was meant.
    again = skyhaul("get", second, "-d", "two", "--json")
    assert json.loads(again.stdout)["downloaded"] == 1
    assert (tmp_path / "elsewhere" / "second.fits").is_file()
    assert states() == {"DOWNLOADED": 2}


def test_bare_urls_land_under_their_names_in_the_current_directory(
    skyhaul: Invoke, sim: SimThread, tmp_path: Path
) -> None:
    urls = [f.url for f in sim.files[:2]]
    result = skyhaul("get", *urls)
    assert result.exit_code == 0, result.output
    for url in urls:
        assert (tmp_path / url.rsplit("/", 1)[1]).is_file()


def test_a_file_that_cannot_be_had_gives_exit_1_and_its_failure(
    skyhaul: Invoke, sim: SimThread, manifest: Path, states: States
) -> None:
    missing = sim.files[5]
    sim.set_faults(fail_paths={missing.path: 404})
    result = skyhaul("get", "-i", str(manifest), "-d", "files", "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert (summary["downloaded"], summary["failed"], summary["abandoned"]) == (23, 0, 1)
    [failure] = summary["failures"]
    assert failure["url"] == missing.url
    assert failure["error_class"] == "client"
    assert "404" in failure["message"]
    assert states() == {"DOWNLOADED": 23, "ABANDONED": 1}


def test_human_summary_lists_failures_redacted(
    skyhaul: Invoke, sim: SimThread, tmp_path: Path
) -> None:
    target = sim.files[0]
    sim.set_faults(fail_paths={target.path: 410})
    url = target.url + "?token=s3cr3t"
    result = skyhaul("get", url, "-d", "files", "--max-attempts", "1")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("0 downloaded, 0 failed, 1 abandoned — ")
    assert lines[1].split() == [
        "abandoned",
        "client",
        f"{target.url}?token=REDACTED:",
        *lines[1].split()[3:],
    ]
    assert "s3cr3t" not in result.output


def test_transfer_options_are_accepted(skyhaul: Invoke, manifest: Path) -> None:
    result = skyhaul(
        "get",
        "-i",
        str(manifest),
        "-d",
        "files",
        "-j",
        "2",
        "--max-per-host",
        "2",
        "--segment-size",
        "64KiB",
        "--max-attempts",
        "3",
        "--insecure",
        "--no-progress",
        "-v",
    )
    assert result.exit_code == 0, result.output


def test_the_bounds_of_a_run_are_options_kept_with_its_job(
    skyhaul: Invoke, manifest: Path, catalog: Catalog
) -> None:
    result = skyhaul(
        "get", "-i", str(manifest), "-d", "files", "--no-progress",
        "--timeout", "20s", "--min-speed", "2KiB", "--min-speed-time", "30s",
        "--max-wait", "1m", "--checkpoint-interval", "5s",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (job,) = catalog.list_jobs()
    options = job.params["options"]
    assert (options["connect_timeout"], options["read_timeout"]) == (20.0, 20.0)
    assert (options["min_speed"], options["min_speed_time"]) == (2048, 30.0)
    assert options["max_wait"] == 60.0
    assert options["checkpoint_interval"] == 5.0


def test_the_bounds_of_a_run_default_to_the_documented_values(
    skyhaul: Invoke, manifest: Path, catalog: Catalog
) -> None:
    result = skyhaul("get", "-i", str(manifest), "-d", "files", "--no-progress")
    assert result.exit_code == 0, result.output
    (job,) = catalog.list_jobs()
    options = job.params["options"]
    assert (options["connect_timeout"], options["read_timeout"]) == (30.0, 60.0)
    assert (options["min_speed"], options["min_speed_time"]) == (1024, 60.0)
    assert options["max_wait"] == 600.0
    assert options["checkpoint_interval"] == 1.0
    assert "--min-speed" in skyhaul("get", "--help").stdout


def test_get_as_a_subprocess_keeps_stdout_for_json(
    skyhaul_process: Callable[..., subprocess.CompletedProcess[str]], manifest: Path
) -> None:
    done = skyhaul_process("get", "-i", str(manifest), "-d", "files", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["downloaded"] == 24
    assert "━" not in done.stderr  # no progress bars: not a terminal


def test_a_rerun_of_a_get_whose_file_was_abandoned_exits_1_and_says_so(
    skyhaul: Invoke, sim: SimThread, manifest: Path, catalog: Catalog, states: States
) -> None:
    missing = sim.files[5]
    sim.set_faults(fail_paths={missing.path: 404})
    assert skyhaul("get", "-i", str(manifest), "-d", "files").exit_code == 1
    again = skyhaul("get", "-i", str(manifest), "-d", "files")
    assert again.exit_code == 1, again.output
    assert "nothing to do" not in again.stdout
    assert re.search(r"1 of the files named is not done: 1 ABANDONED\b", again.stdout)
    assert "skyhaul retry" in again.stdout
    as_json = skyhaul("get", "-i", str(manifest), "-d", "files", "--json")
    assert as_json.exit_code == 1
    summary = json.loads(as_json.stdout)
    assert summary["unfinished"] == {"abandoned": 1}
    assert (summary["downloaded"], summary["failed"], summary["abandoned"]) == (0, 0, 0)
    job = catalog.get_job(summary["job"])
    assert job is not None and job.state is JobState.FAILED
    assert states() == {"DOWNLOADED": 23, "ABANDONED": 1}


def test_a_named_file_failed_earlier_and_not_due_soon_is_not_success(
    skyhaul: Invoke, sim: SimThread, tmp_path: Path, catalog: Catalog
) -> None:
    url = sim.files[0].url
    catalog.register([FileSpec(url=url, path="a.fits")], str(tmp_path / "files"), now=NOW)
    now = datetime.now(UTC)
    [claimed] = catalog.claim_batch("earlier:1:run", 1, now=now, lease_seconds=60)
    catalog.fail(
        claimed.id,
        "earlier:1:run",
        now=now,
        error_class="server",
        message="HTTP 500",
        next_attempt_at=now + timedelta(hours=1),
        permanent=False,
    )
    result = skyhaul("get", url, "-d", "files", "--json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["unfinished"] == {"failed": 1}


def test_a_named_file_another_live_process_holds_is_reported_not_success(
    skyhaul: Invoke, sim: SimThread, tmp_path: Path, catalog: Catalog, states: States
) -> None:
    first, held = (f.url for f in sim.files[:2])
    catalog.register([FileSpec(url=held, path="held.fits")], str(tmp_path / "files"), now=NOW)
    # A live worker on another host holds it: its lease runs for ten minutes more.
    catalog.claim_batch("elsewhere:4242:run", 1, now=datetime.now(UTC), lease_seconds=600)
    result = skyhaul("get", first, held, "-d", "files")
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("1 downloaded, 0 failed, 0 abandoned — ")
    assert "1 of the files named is not done: 1 DOWNLOADING in another process" in result.stdout
    assert states() == {"DOWNLOADED": 1, "DOWNLOADING": 1}


# --- destinations (issue 13): part-file names, overlapping roots, copies -------------------


def _manifest(at: Path, rows: list[tuple[ListedFile, str]]) -> Path:
    with at.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["url", "path", "size", "checksum"])
        for listed, path in rows:
            writer.writerow([listed.url, path, listed.size, f"sha256:{listed.sha256}"])
    return at


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_named_like_another_s_part_file_survives_its_download(
    skyhaul: Invoke, sim: SimThread, tmp_path: Path, states: States
) -> None:
    a, b, c, d = sim.files[:4]
    first = _manifest(tmp_path / "a.csv", [(a, "x.part")])
    assert skyhaul("get", "-i", str(first), "-d", "files").exit_code == 0
    second = _manifest(tmp_path / "b.csv", [(b, "x")])
    assert skyhaul("get", "-i", str(second), "-d", "files").exit_code == 0
    # ... and in one run, one file after the other.
    both = _manifest(tmp_path / "c.csv", [(c, "y.part"), (d, "y")])
    assert skyhaul("get", "-i", str(both), "-d", "files", "-j", "1").exit_code == 0
    for listed, name in ((a, "x.part"), (b, "x"), (c, "y.part"), (d, "y")):
        assert _sha256(tmp_path / "files" / name) == listed.sha256, name
    assert states() == {"DOWNLOADED": 4}


def test_a_destination_only_a_part_file_may_have_is_refused(
    skyhaul: Invoke, sim: SimThread, tmp_path: Path, states: States
) -> None:
    named = _manifest(tmp_path / "m.csv", [(sim.files[0], "x.skyhaul.part")])
    result = skyhaul("get", "-i", str(named), "-d", "files")
    assert result.exit_code == 2
    assert "reserved for skyhaul's part files" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert states() == {}


def test_overlapping_roots_never_name_one_file_twice(
    skyhaul: Invoke, sim: SimThread, tmp_path: Path, states: States
) -> None:
    a, b = sim.files[:2]
    first = _manifest(tmp_path / "a.csv", [(a, "sub/x")])
    assert skyhaul("get", "-i", str(first), "-d", "nd").exit_code == 0
    second = _manifest(tmp_path / "b.csv", [(b, "x")])
    result = skyhaul("get", "-i", str(second), "-d", "nd/sub")
    assert result.exit_code == 2
    assert f"already used by {a.url}" in result.stderr and b.url in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert _sha256(tmp_path / "nd" / "sub" / "x") == a.sha256
    assert states() == {"DOWNLOADED": 1}


def test_get_under_another_root_makes_a_copy_from_the_verified_file(
    skyhaul: Invoke, sim: SimThread, tmp_path: Path, states: States
) -> None:
    listed = sim.files[0]
    name = listed.path.rsplit("/", 1)[-1]
    assert skyhaul("get", listed.url, "-d", "a").exit_code == 0
    requests = sim.stats.snapshot().requests
    result = skyhaul("get", listed.url, "-d", "b", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["downloaded"], summary["copied"]) == (0, 1)
    assert _sha256(tmp_path / "b" / name) == listed.sha256
    assert sim.stats.snapshot().requests == requests  # made without the network
    [document] = json.loads(skyhaul("ls", "--json").stdout)
    assert document["copies"] == [
        {"dest_root": str(tmp_path / "b"), "path": name, "state": "PRESENT", "last_error": None}
    ]
    human = skyhaul("get", listed.url, "-d", "b")  # nothing left to do there
    assert human.exit_code == 0 and "nothing to do" in human.stdout
    # The original damaged: it is fetched again, then copied.
    (tmp_path / "a" / name).write_bytes(b"damaged")
    again = skyhaul("get", listed.url, "-d", "c", "--json")
    assert again.exit_code == 0, again.output
    assert (json.loads(again.stdout)["downloaded"], json.loads(again.stdout)["copied"]) == (1, 1)
    for root in ("a", "b", "c"):
        assert _sha256(tmp_path / root / name) == listed.sha256, root
    assert states() == {"DOWNLOADED": 1}
