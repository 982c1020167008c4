"""``/api/backfill``: the sources with a ledger, one source's days (latest row, attempts)
and their availability, and refusals of unknown sources and bad ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.backfill import DayRun, DayStatus, day_window
from skyhaul.web.settings import WebSettings

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RANGE = {"first": "2024-03-01", "last": "2024-03-05"}


def _run(source: str, day: str, status: DayStatus, **values: Any) -> DayRun:
    start, end = day_window(date.fromisoformat(day))
    return DayRun(f"run-{day}", source, start.date(), status, start, end, NOW, **values)


def _done(day: str, records: int) -> DayRun:
    path = f"/data/telemetry/{day}.csv"
    values = {"records": records, "expected_records": 100, "availability": float(records)}
    return _run("telemetry", day, DayStatus.DOWNLOADED, path=path, **values)


@pytest.fixture
def ledger(web_catalog: Catalog, web_settings: WebSettings) -> Catalog:
    """Ledger rows of ``telemetry`` over 2024-03-01..04 (05 never run), one row of
    ``old-feed``; the configuration names ``weather`` (records) and ``files`` (not)."""
    assert web_settings.config is not None
    web_settings.config.write_text(
        '[sources.weather]\ntype = "records-api"\nurl = "http://127.0.0.1:9/"\n\n'
        '[sources.files]\ntype = "sim"\n'
    )
    rows = [
        _run("telemetry", "2024-03-01", DayStatus.PENDING),
        _done("2024-03-01", 90),
        _run("telemetry", "2024-03-02", DayStatus.PENDING),
        _run(
            "telemetry",
            "2024-03-02",
            DayStatus.FAILED,
            error_type="ServerError",
            error_message="HTTP 503",
        ),
        _run("telemetry", "2024-03-02", DayStatus.PENDING),
        _done("2024-03-02", 100),
        _run("telemetry", "2024-03-03", DayStatus.PENDING),
        _run("telemetry", "2024-03-03", DayStatus.SKIPPED_NO_DATA, records=0, expected_records=100),
        _run("telemetry", "2024-03-04", DayStatus.PENDING),
        _run(
            "telemetry",
            "2024-03-04",
            DayStatus.FAILED,
            expected_records=100,
            error_type="ServerError",
            error_message="HTTP 500",
        ),
        _run("old-feed", "2023-01-01", DayStatus.DOWNLOADED, records=1),
    ]
    for row in rows:
        web_catalog.append_day_run(row)
    return web_catalog


async def test_sources_are_the_ledgers_and_the_configured_records_sources(
    api: httpx.AsyncClient, ledger: Catalog
) -> None:
    answer = await api.get("/api/backfill/sources")
    assert answer.status_code == 200
    assert answer.json() == {"sources": ["old-feed", "telemetry", "weather"]}


async def test_days_show_the_latest_row_and_attempts(
    api: httpx.AsyncClient, ledger: Catalog
) -> None:
    answer = await api.get("/api/backfill/telemetry", params=RANGE)
    assert answer.status_code == 200
    document = answer.json()
    assert (document["source"], document["first"], document["last"]) == (
        "telemetry",
        "2024-03-01",
        "2024-03-05",
    )
    days = {d["day"]: d for d in document["days"]}
    assert list(days) == [f"2024-03-0{n}" for n in range(1, 6)]
    summary = {
        day: (d["state"], d["records"], d["expected"], d["availability"], d["attempt"], d["error"])
        for day, d in days.items()
    }
    assert summary == {
        "2024-03-01": ("DOWNLOADED", 90, 100, 90.0, 1, None),
        "2024-03-02": ("DOWNLOADED", 100, 100, 100.0, 2, None),
        "2024-03-03": ("SKIPPED_NO_DATA", 0, 100, None, 1, None),
        "2024-03-04": ("FAILED", None, 100, None, 1, "HTTP 500"),
        "2024-03-05": ("NOT_RUN", None, None, None, 0, None),
    }
    assert days["2024-03-04"]["error_type"] == "ServerError"
    assert days["2024-03-01"]["path"] == "/data/telemetry/2024-03-01.csv"
    assert days["2024-03-01"]["window_start"] == "2024-03-01T00:00:00+00:00"
    assert days["2024-03-05"]["run_id"] is None


async def test_availability_is_computed_per_day_and_overall(
    api: httpx.AsyncClient, ledger: Catalog
) -> None:
    availability = (await api.get("/api/backfill/telemetry", params=RANGE)).json()["availability"]
    # 90 + 100 + 0 records of 4 x 100 expected (the failed day counts 0).
    assert availability["overall_percent"] == pytest.approx(47.5)
    assert [d["percent"] for d in availability["days"]] == [90.0, 100.0, 0.0, None, None]
    assert availability["below_threshold"] == ["2024-03-03"]  # 90 % is not below 90
    assert availability["status_counts"] == {
        "DOWNLOADED": 2,
        "SKIPPED_NO_DATA": 1,
        "FAILED": 1,
        "NOT_RUN": 1,
    }


async def test_a_configured_source_never_run_shows_every_day_not_run(
    api: httpx.AsyncClient, ledger: Catalog
) -> None:
    document = (await api.get("/api/backfill/weather", params=RANGE)).json()
    assert {d["state"] for d in document["days"]} == {"NOT_RUN"}
    assert document["availability"]["overall_percent"] is None


async def test_range_defaults_to_thirty_days_ending_today_or_last(
    api: httpx.AsyncClient, ledger: Catalog
) -> None:
    today = datetime.now(UTC).date()
    days = (await api.get("/api/backfill/telemetry")).json()["days"]
    assert len(days) == 30
    assert days[-1]["day"] in (today.isoformat(), (today + timedelta(days=1)).isoformat())
    ending = (await api.get("/api/backfill/telemetry", params={"last": "2024-03-05"})).json()
    assert (ending["first"], len(ending["days"])) == ("2024-02-05", 30)
    early = (await api.get("/api/backfill/telemetry", params={"last": "0001-01-05"})).json()
    assert (early["first"], len(early["days"])) == ("0001-01-01", 5)


@pytest.mark.parametrize("source", ["nope", "files"])
async def test_unknown_source_is_404(api: httpx.AsyncClient, ledger: Catalog, source: str) -> None:
    answer = await api.get(f"/api/backfill/{source}", params=RANGE)
    assert answer.status_code == 404
    assert repr(source) in answer.json()["error"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"first": "2024-02-30", "last": "2024-03-01"}, "first: '2024-02-30' is not a date"),
        ({"first": "2024-03-01", "last": "soon"}, "last: 'soon' is not a date"),
        ({"last": "soon"}, "last: 'soon' is not a date"),
        ({"first": "2024-03-05", "last": "2024-03-01"}, "last 2024-03-01 is before first"),
        ({"first": "2000-01-01", "last": "2024-01-01"}, "at most 3,660"),
        ({"first": "2024-03-01", "last": "9999-12-31"}, "the last day whose window"),
        ({"first": "x" * 101}, "first"),
    ],
)
async def test_bad_ranges_are_400_with_one_line(
    api: httpx.AsyncClient, ledger: Catalog, params: dict[str, str], says: str
) -> None:
    answer = await api.get("/api/backfill/telemetry", params=params)
    assert answer.status_code == 400
    message = answer.json()["error"]
    assert says in message
    assert "\n" not in message
