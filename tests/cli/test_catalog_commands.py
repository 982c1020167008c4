"""``status``, ``ls``, ``recover-stale``, ``retry``, ``ignore``, ``unignore`` on a real catalog."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import Result

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.lifecycle import FileEvent, FileState
from skyhaul.core.model import FileSpec, Selection

Invoke = Callable[..., Result]
States = Callable[[], dict[str, int]]

NOW = datetime.now(UTC)


@pytest.fixture
def files(catalog: Catalog, tmp_path: Path) -> Catalog:
    """Six files: 1 DISCOVERED, 2 FAILED, 3 ABANDONED, 4 stale DOWNLOADING, 5 IGNORED,
    6 DISCOVERED; 1-3 are AIA, 4-6 EUI; file 2's URL carries a token."""
    specs = [
        FileSpec(
            url=f"https://archive.example/d/f{i}.fits" + ("?token=s3cr3t" if i == 2 else ""),
            path=f"d/f{i}.fits",
            size=100 * i,
            instrument="AIA" if i <= 3 else "EUI",
            source="manifest" if i % 2 else "cli",
        )
        for i in range(1, 7)
    ]
    catalog.register(specs, str(tmp_path / "data"), now=NOW)
    for file_id, permanent in ((2, False), (3, True)):
        [record] = catalog.claim_batch(
            "w", 1, now=NOW, lease_seconds=60, selection=Selection(ids=(file_id,))
        )
        catalog.fail(
            record.id,
            "w",
            now=NOW,
            error_class="server" if not permanent else "client",
            message="503 Service Unavailable" if not permanent else "404 Not Found",
            next_attempt_at=NOW + timedelta(hours=1),
            permanent=permanent,
        )
    catalog.claim_batch(
        "dead", 1, now=NOW - timedelta(hours=1), lease_seconds=60, selection=Selection(ids=(4,))
    )
    catalog.apply_event(FileEvent.IGNORE, Selection(ids=(5,)), now=NOW)
    return catalog


def state_of(catalog: Catalog, file_id: int) -> FileState:
    record = catalog.get(file_id)
    assert record is not None
    return record.state


def test_status_json(skyhaul: Invoke, files: Catalog) -> None:
    result = skyhaul("status", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "states": {
            "DISCOVERED": {"count": 2, "bytes": 700},
            "DOWNLOADING": {"count": 1, "bytes": 400},
            "DOWNLOADED": {"count": 0, "bytes": 0},
            "FAILED": {"count": 1, "bytes": 200},
            "ABANDONED": {"count": 1, "bytes": 300},
            "IGNORED": {"count": 1, "bytes": 500},
        },
        "total": {"count": 6, "bytes": 2100},
    }


def test_status_table(skyhaul: Invoke, files: Catalog, tmp_path: Path) -> None:
    result = skyhaul("status")
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "catalog.db") in result.stdout
    for state, count, size in [("DISCOVERED", 2, "700 B"), ("FAILED", 1, "200 B")]:
        [row] = [line for line in result.stdout.splitlines() if state in line]
        assert str(count) in row
        assert size in row
    [total] = [line for line in result.stdout.splitlines() if "total" in line]
    assert "6" in total
    assert "2.1 KiB" in total


@pytest.mark.usefixtures("catalog")  # status reads a catalog; it never creates one
def test_status_of_an_empty_catalog(skyhaul: Invoke) -> None:
    result = skyhaul("status", "--json")
    assert json.loads(result.stdout)["total"] == {"count": 0, "bytes": 0}


def test_ls_json_lists_every_file_with_urls_redacted(skyhaul: Invoke, files: Catalog) -> None:
    result = skyhaul("ls", "--json")
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert [f["id"] for f in listing] == [1, 2, 3, 4, 5, 6]
    second = listing[1]
    assert second["url"] == "https://archive.example/d/f2.fits?token=REDACTED"
    assert second["state"] == "FAILED"
    assert second["attempts"] == 1
    assert second["last_error"] == "503 Service Unavailable"
    assert second["error_class"] == "server"
    assert second["next_attempt_at"].startswith(str((NOW + timedelta(hours=1)).year))
    assert "s3cr3t" not in result.output


@pytest.mark.parametrize(
    ("args", "ids"),
    [
        (["--state", "FAILED"], [2]),
        (["--state", "failed", "--state", "abandoned"], [2, 3]),
        (["--instrument", "EUI"], [4, 5, 6]),
        (["--source", "cli"], [2, 4, 6]),
        (["--url-prefix", "https://archive.example/d/f1"], [1]),
        (["--instrument", "AIA", "-s", "DISCOVERED"], [1]),
        (["--instrument", "HMI"], []),
    ],
)
def test_ls_filters(skyhaul: Invoke, files: Catalog, args: list[str], ids: list[int]) -> None:
    result = skyhaul("ls", "--json", *args)
    assert result.exit_code == 0, result.output
    assert [f["id"] for f in json.loads(result.stdout)] == ids


def test_ls_limit(skyhaul: Invoke, files: Catalog) -> None:
    limited = skyhaul("ls", "--json", "--limit", "2")
    assert [f["id"] for f in json.loads(limited.stdout)] == [1, 2]
    assert "showing 2 of 6 files" in limited.stderr
    everything = skyhaul("ls", "--json", "--limit", "0")
    assert len(json.loads(everything.stdout)) == 6
    assert everything.stderr == ""


def test_ls_table(skyhaul: Invoke, files: Catalog) -> None:
    result = skyhaul("ls", "--state", "FAILED")
    assert result.exit_code == 0, result.output
    header, *rows = [line for line in result.stdout.splitlines() if "━" not in line]
    for column in ("id", "state", "size", "path", "url", "tries", "last error"):
        assert column in header
    [row] = [r for r in rows if r.strip().startswith("2 ")]
    assert "FAILED" in row
    assert "200 B" in row
    assert "server: 503" in row
    assert "s3cr3t" not in result.output


def test_recover_stale(skyhaul: Invoke, files: Catalog) -> None:
    result = skyhaul("recover-stale")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 file recovered from an expired lease")
    assert state_of(files, 4) is FileState.FAILED
    assert json.loads(skyhaul("recover-stale", "--json").stdout) == {"changed": 0}


def test_recover_stale_by_instrument(skyhaul: Invoke, files: Catalog) -> None:
    assert json.loads(skyhaul("recover-stale", "--instrument", "AIA", "--json").stdout) == {
        "changed": 0
    }
    assert state_of(files, 4) is FileState.DOWNLOADING


def test_retry_failed_and_abandoned(skyhaul: Invoke, files: Catalog, states: States) -> None:
    result = skyhaul("retry")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2 files set to DISCOVERED (from ABANDONED or FAILED)"
    assert states() == {"DISCOVERED": 4, "DOWNLOADING": 1, "IGNORED": 1}
    assert files.get(2).attempts == 0  # type: ignore[union-attr]


def test_retry_by_id(skyhaul: Invoke, files: Catalog) -> None:
    assert json.loads(skyhaul("retry", "--id", "3", "--json").stdout) == {"changed": 1}
    assert state_of(files, 2) is FileState.FAILED
    assert state_of(files, 3) is FileState.DISCOVERED


def test_ignore_needs_a_filter(skyhaul: Invoke, files: Catalog, states: States) -> None:
    before = states()
    result = skyhaul("ignore")
    assert result.exit_code == 2
    assert result.stderr.startswith("skyhaul: error: ignore which files?")
    assert states() == before


def test_ignore_and_unignore(skyhaul: Invoke, files: Catalog, states: States) -> None:
    result = skyhaul("ignore", "--id", "1", "--id", "3")
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.strip() == "2 files set to IGNORED (from ABANDONED or DISCOVERED or FAILED)"
    )
    assert json.loads(skyhaul("ignore", "--instrument", "EUI", "--json").stdout) == {"changed": 1}
    assert states() == {"FAILED": 1, "DOWNLOADING": 1, "IGNORED": 4}
    assert json.loads(skyhaul("unignore", "--id", "5", "--json").stdout) == {"changed": 1}
    assert skyhaul("unignore").stdout.strip() == "3 files set to DISCOVERED (from IGNORED)"
    assert states() == {"DISCOVERED": 4, "FAILED": 1, "DOWNLOADING": 1}


def test_ignore_all(skyhaul: Invoke, files: Catalog, states: States) -> None:
    assert json.loads(skyhaul("ignore", "--all", "--json").stdout) == {"changed": 4}
    assert states() == {"DOWNLOADING": 1, "IGNORED": 5}


READ_ONLY = [
    ("status",),
    ("ls",),
    ("jobs",),
    ("jobs", "show", "1"),
    ("ledger", "show", "--source", "sim", "--start-date", "2024-01-01", "--end-date", "2024-01-02"),
    ("ledger", "export", "--csv", "ledger.csv"),
    ("report", "availability", "--source", "sim", "--start-date", "2024-01-01",
     "--end-date", "2024-01-02"),
    # They change rows but never the first: with no catalog there is nothing to change.
    ("verify",),
    ("retry", "--id", "1"),
    ("ignore", "--all"),
    ("unignore",),
    ("recover-stale",),
]  # fmt: skip


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_command_on_existing_rows_never_creates_a_catalog(
    skyhaul: Invoke, catalog_url: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    (tmp_path / "skyhaul.toml").write_text('[sources.sim]\ntype = "sim"\nurl = "http://x"\n')
    result = skyhaul(*command)
    assert result.exit_code == 2, result.output
    path = tmp_path / "catalog.db"
    assert result.stderr == (
        f"skyhaul: error: no catalog at {path} (create one with skyhaul get or skyhaul discover)\n"
    )
    assert not path.exists()
    nested = tmp_path / "deep" / "down" / "c.db"
    assert skyhaul(*command, "--catalog", str(nested)).exit_code == 2
    assert not (tmp_path / "deep").exists()


def test_a_read_only_command_migrates_a_catalog_behind(
    skyhaul: Invoke, catalog_url: str, tmp_path: Path
) -> None:
    from skyhaul.adapters.catalog.database import create_catalog_engine
    from skyhaul.adapters.catalog.migrate import upgrade

    engine = create_catalog_engine(catalog_url)
    try:
        upgrade(engine, "0004")
    finally:
        engine.dispose()
    result = skyhaul("status", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"] == {"count": 0, "bytes": 0}


def test_the_sqlite_catalog_is_created_readable_by_its_owner_only(
    skyhaul: Invoke, catalog_url: str, tmp_path: Path
) -> None:
    # Any command that registers creates it: here one whose server is not there.
    result = skyhaul("get", "http://127.0.0.1:9/x.fits", "--max-attempts", "1")
    assert result.exit_code == 1, result.output
    created = [tmp_path / name for name in ("catalog.db", "catalog.db-wal", "catalog.db-shm")]
    modes = {path.name: oct(path.stat().st_mode & 0o777) for path in created if path.exists()}
    assert modes["catalog.db"] == "0o600"
    assert set(modes.values()) == {"0o600"}
