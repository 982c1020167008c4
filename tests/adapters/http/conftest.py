"""Fixtures of the HTTP client's tests: loopback archives (plain and TLS), a test
certificate, and an address whose connections are never accepted."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from tests.adapters.http.loopback import Archive, StartArchive, serve


@pytest.fixture
async def start_archive() -> AsyncIterator[StartArchive]:
    """Start archives on loopback (port 0), plain or with ``tls=``; all stop after the test."""
    runners: list[web.AppRunner] = []

    async def start(tls: ssl.SSLContext | None = None) -> Archive:
        archive = Archive()
        runner, archive.url = await serve(archive.app(), tls)
        runners.append(runner)
        return archive

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture(scope="session")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1 (trusted by nobody)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a test certificate")
    where: Path = tmp_path_factory.mktemp("tls")
    key, cert = where / "key.pem", where / "cert.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def unaccepted_url() -> Iterator[str]:
    """A loopback URL whose connections are never accepted: the listener's queue is full.

    With a backlog of 0, Linux queues one connection; the SYNs of later ones are dropped,
    so their connect hangs until the client's connect timeout ends it.
    """
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.settimeout(5)
        filler.connect(listener.getsockname())
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/data"
