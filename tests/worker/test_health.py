"""A worker's health key (worker/health.py): ``skyhaul workers`` lists a running ``skyhaul
worker`` with its queues, and no longer once it has stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

REDIS_DB = "redis://127.0.0.1:6379/12"


def _listed(env: dict[str, str]) -> list[dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "skyhaul.cli.app", "workers", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    services: list[dict[str, object]] = json.loads(out.stdout)["services"]
    return services


def _until(check: Callable[[], bool], what: str, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline} s: {what}")
        time.sleep(0.2)


def test_a_running_worker_is_listed_and_a_stopped_one_is_not(redis_url: str) -> None:
    del redis_url  # the fixture skips (or fails under CI=true) without Redis
    import redis

    redis.Redis.from_url(REDIS_DB).flushdb()
    env = {**os.environ, "SKYHAUL_BROKER": REDIS_DB}
    worker = subprocess.Popen(
        [sys.executable, "-m", "skyhaul.cli.app", "worker", "-Q", "health-test", "-c", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _until(lambda: len(_listed(env)) == 1, "the worker listed")
        [listed] = _listed(env)
        assert listed["service_type"] == "worker" and listed["queues"] == ["health-test"]
        assert str(listed["name"]).endswith(f":{worker.pid}")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        assert _listed(env) == []  # a clean stop deletes its key at once
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
