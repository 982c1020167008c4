"""``skyhaul workers``: live workers and managers read from a real Redis (database 13)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from typer.testing import Result

from skyhaul.adapters.liveness import Liveness

Invoke = Callable[..., Result]

STARTED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def broker(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Database 13 with no worker or manager health keys, before and after the test."""
    monkeypatch.delenv("SKYHAUL_BROKER", raising=False)
    plain = redis.Redis.from_url(redis_url)

    def clear() -> None:
        for pattern in ("health:worker:*", "health:manager:*"):
            keys = list(plain.scan_iter(match=pattern))
            if keys:
                plain.delete(*keys)

    clear()
    yield redis_url
    clear()
    plain.close()


def _with_services(broker: str, invoke: Callable[[], Result]) -> Result:
    """Run ``invoke`` (in a thread) while a worker and a manager keep their keys."""

    async def run() -> Result:
        worker = Liveness(broker, "worker", "w1", queues=["downloads", "site_a_copy"])
        manager = Liveness(broker, "manager", "m1", clock=lambda: STARTED)
        async with worker, manager:
            worker.holding(["file:12", "slot:archive.example"])
            await worker.beat()
            return await asyncio.to_thread(invoke)

    return asyncio.run(run())


def test_no_live_workers(skyhaul: Invoke, broker: str) -> None:
    result = skyhaul("workers", "--broker", broker)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "no live workers"
    result = skyhaul("workers", "--broker", broker, "--json")
    assert json.loads(result.stdout) == {"services": []}


def test_lists_workers_and_managers(
    skyhaul: Invoke, broker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYHAUL_BROKER", broker)  # the broker from the environment
    monkeypatch.setenv("COLUMNS", "160")  # one line per service
    result = _with_services(broker, lambda: skyhaul("workers"))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Name", "Type", "Host", "PID", "Queues", "Since", "Holding"]
    assert lines[1].startswith("m1") and "2025-03-01 12:00:00 UTC" in lines[1]
    assert lines[2].startswith("w1")
    assert "downloads, site_a_copy" in lines[2] and "file:12, slot:archive.example" in lines[2]


def test_lists_as_json(skyhaul: Invoke, broker: str) -> None:
    result = _with_services(broker, lambda: skyhaul("workers", "--broker", broker, "--json"))
    assert result.exit_code == 0, result.output
    services = json.loads(result.stdout)["services"]
    assert [(s["service_type"], s["name"]) for s in services] == [
        ("manager", "m1"),
        ("worker", "w1"),
    ]
    assert services[1]["queues"] == ["downloads", "site_a_copy"]
    assert services[1]["holding"] == ["file:12", "slot:archive.example"]
    assert services[0]["started"] == STARTED.isoformat()


def test_an_unreachable_redis_is_one_line_exit_2(skyhaul: Invoke, redis_url: str) -> None:
    result = skyhaul("workers", "--broker", "redis://:secret@127.0.0.1:1/0")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("skyhaul: error: Redis at redis://127.0.0.1:1/0")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "secret" not in result.stderr


def test_without_a_broker_option_it_takes_the_configuration_files(
    skyhaul: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SKYHAUL_BROKER", raising=False)
    monkeypatch.delenv("SKYHAUL_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "skyhaul.toml").write_text('broker = "redis://127.0.0.1:1/5"\n')
    result = skyhaul("workers")
    assert result.exit_code == 2
    assert result.stderr.startswith("skyhaul: error: Redis at redis://127.0.0.1:1/5")


def test_the_command_line_lists_it(skyhaul: Invoke) -> None:
    assert "workers" in skyhaul("--help").stdout
