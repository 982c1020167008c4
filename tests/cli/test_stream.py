"""``skyhaul stream send`` and ``receive`` against the real NATS server.

Each test has a stream of its own, deleted afterwards. Without the server the tests skip,
except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import Result

from skyhaul.adapters.nats_chunks import NatsChunkTransport
from skyhaul.core.streamchunks import file_token

Invoke = Callable[..., Result]
WaitFor = Callable[[Callable[[], bool], float, str], None]
SRC = Path(__file__).parents[2] / "src"


@pytest.fixture
def stream(nats_url: str, stream_name: str) -> Iterator[list[str]]:
    """``--broker URL --stream NAME`` of this test's stream, deleted afterwards."""
    yield ["--broker", nats_url, "--stream", stream_name]

    async def delete() -> None:
        transport = await NatsChunkTransport.connect(nats_url, stream_name)
        try:
            await transport.delete_stream()
        finally:
            await transport.close()

    asyncio.run(delete())


def _files(root: Path) -> dict[str, bytes]:
    rng = random.Random(4)
    files = {f"d{n % 2}/f{n}.bin": rng.randbytes(rng.randrange(0, 300_000)) for n in range(6)}
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    return files


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_send_then_receive_until_idle(skyhaul: Invoke, stream: list[str], tmp_path: Path) -> None:
    files = _files(tmp_path / "out")
    sent = skyhaul(
        "stream", "send", str(tmp_path / "out"), *stream, "--chunk-size", "64KiB", "--json"
    )
    assert sent.exit_code == 0, sent.output
    document = json.loads(sent.stdout)
    assert document["files"] == 6 and document["changed"] == []
    assert document["chunks"] == sum(max(1, -(-len(c) // 65536)) for c in files.values())

    got = skyhaul(
        "stream", "receive", *stream, "-d", str(tmp_path / "in"), "--exit-when-idle", "1s", "--json"
    )
    assert got.exit_code == 0, got.output
    assert json.loads(got.stdout)["completed"] == 6
    assert _tree(tmp_path / "in") == files


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--broker", "nats://127.0.0.1:1", "--stream", "s"], "cannot reach the broker"),
        (["--broker", "nats://127.0.0.1:4222", "--stream", "a.b"], "invalid stream name"),
    ],
)
def test_a_bad_broker_or_stream_is_one_line_and_exit_2(
    skyhaul: Invoke, tmp_path: Path, args: list[str], words: str
) -> None:
    result = skyhaul("stream", "send", str(tmp_path), *args)
    assert result.exit_code == 2
    assert words in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("mode", [[], ["--watch"]])
def test_a_chunk_too_large_for_the_broker_is_one_line_and_exit_2(
    skyhaul: Invoke, nats_url: str, tmp_path: Path, mode: list[str]
) -> None:
    args = ["--broker", nats_url, "--stream", "never-made", "--chunk-size", "1MiB", *mode]
    result = skyhaul("stream", "send", str(tmp_path), *args)
    assert result.exit_code == 2
    assert "does not fit in the broker's messages" in result.output


def _run_until_sigterm(
    args: list[str], condition: Callable[[], bool], what: str, wait_for: WaitFor
) -> tuple[int, str, str]:
    """Start ``skyhaul stream ARGS``; once ``condition`` holds, SIGTERM it; its outcome."""
    command = [sys.executable, "-m", "skyhaul.cli.app", "stream", *args]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            wait_for(condition, 30, what)
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
        finally:
            process.kill()
    return process.returncode, out, err


def test_sigterm_stops_a_receiver_with_130_after_what_it_received(
    skyhaul: Invoke, stream: list[str], tmp_path: Path, wait_for: WaitFor
) -> None:
    files = _files(tmp_path / "out")
    assert skyhaul("stream", "send", str(tmp_path / "out"), *stream).exit_code == 0
    code, out, err = _run_until_sigterm(
        ["receive", *stream, "-d", str(tmp_path / "in"), "--json"],
        lambda: _tree(tmp_path / "in") == files,
        "every file received",
        wait_for,
    )
    assert code == 130, err
    assert json.loads(out)["completed"] == 6


def test_send_watch_sends_files_as_they_settle_until_sigterm(
    stream: list[str], nats_url: str, stream_name: str, tmp_path: Path, wait_for: WaitFor
) -> None:
    (tmp_path / "out").mkdir()

    async def stored(path: str) -> int:
        transport = await NatsChunkTransport.connect(nats_url, stream_name)
        try:
            await transport.ensure_stream()  # the watcher may not have made it yet
            return len([c async for c in transport.replay(file_token(path))])
        finally:
            await transport.close()

    def written_then_stored() -> bool:
        late = tmp_path / "out" / "late.bin"
        if not late.exists():
            late.write_bytes(b"x" * 100_000)
        return asyncio.run(stored("late.bin")) == 1

    code, out, err = _run_until_sigterm(
        ["send", str(tmp_path / "out"), *stream, "--watch", "--settle", "0.2s", "--json"],
        written_then_stored,
        "the file on the stream",
        wait_for,
    )
    assert code == 130, err
    assert json.loads(out)["files"] == 1
