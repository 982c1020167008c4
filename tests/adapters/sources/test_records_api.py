"""The ``records-api`` source table: options, query template, credentials, the HTTP seam."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from skyhaul.adapters.config import SourceConfig
from skyhaul.adapters.sources.records_api import (
    RecordsApiSettings,
    RecordsClient,
    records_api_settings,
)
from skyhaul.errors import ClientError, ConfigError, SourceAuthError, ThrottledError
from skyhaul.sim import FaultConfig, SimConfig, SimThread, profile
from skyhaul.sim.records_config import RecordsConfig

BASE = {
    "url": "https://udl.example/udl/reach",
    "query": "?sensor={sensor}&obTime={start}..{end}",
    "params": {"sensor": "ALL"},
    "chunk": "5m",
    "expected_per_day": "32 * 2 * 17280",
}


def settings(
    tmp_path: Path, env: dict[str, str] | None = None, **options: Any
) -> RecordsApiSettings:
    table = {**BASE, **options}
    config = SourceConfig(
        name="reach",
        type="records-api",
        options={k: v for k, v in table.items() if v is not None},
        dest=tmp_path,
        base_dir=tmp_path,
        where="skyhaul.toml: sources.reach",
    )
    return records_api_settings(config, environ=env or {})


def test_a_table_is_read_with_its_defaults(tmp_path: Path) -> None:
    read = settings(tmp_path)
    assert read.chunk == timedelta(minutes=5)
    assert read.expected_per_day == 1_105_920
    assert (read.time_field, read.output_format, read.concurrency) == ("obTime", "csv", 8)
    assert read.authorization is None
    start = datetime(2024, 1, 1, tzinfo=UTC)
    url = read.chunk_url(start, start + read.chunk)
    assert url == (
        "https://udl.example/udl/reach?sensor=ALL"
        "&obTime=2024-01-01T00:00:00.000000Z..2024-01-01T00:05:00.000000Z"
    )


def test_answers_and_waits_are_bounded_by_default_and_configurable(tmp_path: Path) -> None:
    read = settings(tmp_path)
    assert (read.max_answer_size, read.max_wait) == (256 << 20, 600.0)
    read = settings(tmp_path, max_answer_size="1GiB", max_wait="1h")
    assert (read.max_answer_size, read.max_wait) == (1 << 30, 3600.0)
    assert RecordsClient(read)._http.settings.max_answer == 1 << 30


def test_values_are_percent_encoded_but_the_template_is_not(tmp_path: Path) -> None:
    read = settings(tmp_path, params={"sensor": "A&B C"}, time_format="%Y-%m-%d %H:%M")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert read.chunk_url(start, start).endswith(
        "?sensor=A%26B%20C&obTime=2024-01-01%2000:00..2024-01-01%2000:00"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"colour": "red"}, "unknown option 'colour'"),
        ({"url": "ftp://x/y"}, "'url' must be an http(s) URL"),
        ({"query": "?obTime={start}"}, "must contain {start} and {end}"),
        ({"query": "?s={satellite}&t={start}..{end}"}, "names {satellite}"),
        ({"chunk": "7m"}, "must divide a day evenly"),
        ({"chunk": "soon"}, "'chunk'"),
        ({"expected_per_day": "many"}, "'expected_per_day'"),
        ({"expected_per_day": 0}, "'expected_per_day'"),
        ({"format": "xml"}, "'format' must be one of csv, json, parquet"),
        ({"password": "hunter2"}, "must not be written in the configuration"),
        ({"params": {"sensor": ["a"]}}, "params.sensor"),
    ],
)
def test_bad_tables_are_one_line_config_errors(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(tmp_path, **options)
    assert message in str(raised.value)
    assert str(raised.value).startswith("skyhaul.toml: sources.reach")
    assert "hunter2" not in str(raised.value)


def test_credentials_come_from_the_environment_and_never_show(tmp_path: Path) -> None:
    read = settings(tmp_path, env={"UDL_PW": "pw-123"}, username="me", password_env="UDL_PW")
    assert read.authorization is not None and read.authorization.startswith("Basic ")
    assert "pw-123" not in repr(read) and read.authorization not in repr(read)
    with pytest.raises(ConfigError, match="UDL_PW is not set"):
        settings(tmp_path, username="me", password_env="UDL_PW")


@pytest.fixture(scope="module")
def records_sim(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("records-api-sim")
    with SimThread(SimConfig(archive=profile("small"), root=root)) as running:
        yield running


def fetch(read: RecordsApiSettings, url: str) -> bytes:
    async def go() -> bytes:
        client = RecordsClient(read)
        try:
            return await client.fetch(url)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_the_client_maps_statuses_to_skyhaul_errors(records_sim: Any, tmp_path: Path) -> None:
    records_sim.set_faults(FaultConfig(records=RecordsConfig(sensors=1, cadence=60.0)))
    read = settings(tmp_path, url=records_sim.base_url + "api/records")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    body = fetch(read, read.chunk_url(start, start + read.chunk))
    assert body.startswith(b"[") and b"obTime" in body
    with pytest.raises(ClientError) as bad:
        fetch(read, read.url + "?obTime=nonsense")
    assert bad.value.status == 400

    records_sim.set_faults(FaultConfig(records=RecordsConfig(rate=0.01, burst=0)))
    fetch(read, read.chunk_url(start, start + read.chunk))  # the one token
    with pytest.raises(ThrottledError) as throttled:
        fetch(read, read.chunk_url(start, start + read.chunk))
    assert throttled.value.retry_after is not None and throttled.value.retry_after >= 1

    records_sim.set_faults(FaultConfig(records=RecordsConfig(token="right")))
    with pytest.raises(SourceAuthError, match="HTTP 401"):
        fetch(read, read.chunk_url(start, start + read.chunk))
