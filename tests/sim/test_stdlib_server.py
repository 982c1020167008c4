from __future__ import annotations

import urllib.request
from pathlib import Path

from skyhaul.sim import StdlibServerThread


def test_serves_files_and_ignores_range(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.bin").write_bytes(bytes(range(256)) * 10)
    with StdlibServerThread(tmp_path) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(
            server.base_url + "sub/data.bin", headers={"Range": "bytes=100-"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            assert "Content-Range" not in response.headers
            assert response.read() == bytes(range(256)) * 10
