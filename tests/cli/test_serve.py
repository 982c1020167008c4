"""``skyhaul serve`` as a real process: it prints and writes its URL, answers the API, stops
with exit code 0 on SIGTERM or SIGINT (even while a browser follows an event stream), and
refuses to start off loopback without a token (exit 2, one line)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

#: Seconds a server may take to start, and to stop once signalled.
DEADLINE = 20.0


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "skyhaul.cli.app", "serve", *args]


@contextmanager
def _serving(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``skyhaul serve --port 0 --url-file F ARGS``; yield it and its URL once it
    serves (it is killed after, if still running)."""
    url_file = tmp_path / "url.txt"
    process = subprocess.Popen(
        _command("--port", "0", "--url-file", str(url_file), *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = time.monotonic() + DEADLINE
        while not url_file.exists():
            if process.poll() is not None:
                pytest.fail(f"serve exited {process.returncode}: {process.communicate()[1]}")
            assert time.monotonic() < deadline, "serve never wrote its URL"
            time.sleep(0.02)
        yield process, url_file.read_text().strip()
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=DEADLINE)


def _stop(process: subprocess.Popen[str], signum: int = signal.SIGTERM) -> tuple[int, str, str]:
    """Signal ``process``; return its exit code and output once it ended."""
    process.send_signal(signum)
    out, err = process.communicate(timeout=DEADLINE)
    return process.returncode, out, err


def _get(url: str, token: str | None = None) -> tuple[int, object]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


@pytest.fixture
def catalog_env(tmp_path: Path) -> dict[str, str]:
    return {"SKYHAUL_CATALOG": f"sqlite:///{tmp_path / 'catalog.db'}"}


def test_serves_the_api_and_stops_on_sigterm_with_exit_0(
    tmp_path: Path, catalog_env: dict[str, str]
) -> None:
    with _serving(tmp_path, env=catalog_env) as (process, url):
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        assert _get(url + "api/jobs") == (200, [])
        code, out, err = _stop(process)
    assert code == 0, err
    assert out.strip() == f"skyhaul serving {url}"
    assert "Traceback" not in err


def test_sigint_stops_it_with_exit_0_too(tmp_path: Path, catalog_env: dict[str, str]) -> None:
    with _serving(tmp_path, env=catalog_env) as (process, _):
        code, _, err = _stop(process, signal.SIGINT)
    assert code == 0, err


def test_an_open_event_stream_does_not_keep_it_from_stopping(
    tmp_path: Path, catalog_env: dict[str, str]
) -> None:
    with _serving(tmp_path, env=catalog_env) as (process, url):
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as follower:
            follower.sendall(b"GET /api/jobs/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = b""
            while b"event: jobs" not in head:
                chunk = follower.recv(4096)
                assert chunk, head
                head += chunk
            started = time.monotonic()
            code, _, err = _stop(process)
            assert time.monotonic() - started < DEADLINE
    assert code == 0, err


def _refusal(args: list[str], env: dict[str, str]) -> str:
    """Run ``skyhaul serve ARGS``, expect exit 2; return its one line of error."""
    done = subprocess.run(
        _command(*args),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env={**os.environ, **env},
        check=False,
    )
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_off_loopback_without_a_token_it_refuses_to_start(catalog_env: dict[str, str]) -> None:
    line = _refusal(["--host", "0.0.0.0", "--port", "0"], catalog_env)
    assert "--host 0.0.0.0 is reachable from other machines" in line
    assert "--token-env" in line


def test_a_token_variable_that_is_unset_is_refused(catalog_env: dict[str, str]) -> None:
    env = {**catalog_env, "SKYHAUL_NO_SUCH_TOKEN": ""}
    line = _refusal(["--port", "0", "--token-env", "SKYHAUL_NO_SUCH_TOKEN"], env)
    assert "--token-env SKYHAUL_NO_SUCH_TOKEN" in line and "empty or unset" in line


def test_a_bad_mast_url_is_refused_at_start(catalog_env: dict[str, str]) -> None:
    line = _refusal(["--port", "0", "--mast-url", "ftp://user:hunter2@mast"], catalog_env)
    assert "is not an http(s) URL" in line
    assert "hunter2" not in line


def test_with_a_token_the_api_needs_it(tmp_path: Path, catalog_env: dict[str, str]) -> None:
    token = "s3cret-token-for-the-test"
    env = {**catalog_env, "SKYHAUL_TEST_TOKEN": token}
    with _serving(tmp_path, "--token-env", "SKYHAUL_TEST_TOKEN", env=env) as (process, url):
        status, body = _get(url + "api/jobs")
        assert status == 401 and body == {"error": "log in first: a token is required"}
        assert _get(url + "api/jobs", token="wrong") == (401, {"error": "wrong token"})
        assert _get(url + "api/jobs", token=token) == (200, [])
        code, out, err = _stop(process)
    assert code == 0, err
    assert token not in out + err
