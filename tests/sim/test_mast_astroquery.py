"""The real astroquery against the simulator's MAST: the proof that it speaks MAST.

astroquery runs in a subprocess (``mast_astroquery_probe.py``) with its own astropy
config and cache directories: its portal URLs are read from the config when it is
imported, so nothing of it leaks into this process or the user's home.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from skyhaul.sim import SimConfig, SimThread, profile

PROBE = Path(__file__).with_name("mast_astroquery_probe.py")


@pytest.mark.timeout(300)
def test_astroquery_queries_and_downloads_from_the_simulator(
    sim_root: Path, tmp_path: Path
) -> None:
    config_home, cache_home = tmp_path / "config", tmp_path / "cache"
    (config_home / "astropy").mkdir(parents=True)
    (cache_home / "astropy").mkdir(parents=True)
    downloads = tmp_path / "downloads"
    with SimThread(SimConfig(archive=profile("small"), root=sim_root)) as sim:
        server = sim.mast.server_url
        (config_home / "astropy" / "astroquery.cfg").write_text(f"[mast]\nserver = {server}\n")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(sys.path),
            "XDG_CONFIG_HOME": str(config_home),
            "XDG_CACHE_HOME": str(cache_home),
        }
        probe = subprocess.run(
            [sys.executable, str(PROBE), server, str(downloads)],
            capture_output=True,
            env=env,
            timeout=240,
            check=False,
        )
        assert probe.returncode == 0, probe.stderr.decode()[-3000:]
        got = json.loads(probe.stdout.decode().strip().splitlines()[-1])
        stats = sim.mast.stats.snapshot()
        hst, jwst = sim.mast.products_of("IEPW01010"), sim.mast.products_of(87601177)
        files = {f.product.data_uri: f for f in sim.mast_files(hst + jwst)}

    assert got["object"] == ["jw02727-o002_t062_nircam_clear-f277w", "IEPW01010"]
    assert got["object_distance"] == sorted(got["object_distance"])
    assert got["region"] == ["jw02739-o001_t001_nircam_clear-f090w", "JDBA02020"]
    assert got["criteria"] == ["IEPW01010", "jw01177-o007_t004_miri_f1280w"]
    assert got["count"] == 4
    assert got["products"] == [p.data_uri for p in hst]
    assert got["both"] == [p.data_uri for p in hst + jwst]
    drz, asn, preview = hst[:3]
    assert got["paths"] == {
        drz.data_uri: drz.cloud_key,
        asn.data_uri: asn.cloud_key,
        preview.data_uri: None,
    }
    assert got["fixed_hosts_asked"] == ["mast.stsci.edu", "mastresolver.stsci.edu"]

    # Every product arrived whole, under mastDownload/<collection>/<obs_id>/, with the
    # bytes the simulator serves over HTTP (the corrupted product's wrong ones included).
    assert [status for _, status in got["manifest"]] == ["COMPLETE"] * len(hst + jwst)
    for (path, _), product in zip(got["manifest"], hst + jwst, strict=True):
        local = Path(path)
        collection = product.observation.obs_collection
        assert local == downloads / "mastDownload" / collection / product.obs_id / product.filename
        served = files[product.data_uri].http_sha256
        assert hashlib.sha256(local.read_bytes()).hexdigest() == served
    assert any(not p.has_content_length and "?" in p.data_uri for p in jwst)  # quoting held

    # astroquery sent a HEAD, then one GET, per product; path lookups went in one batch.
    assert stats.downloads == {p.data_uri: 1 for p in hst + jwst}
    assert stats.heads == {p.data_uri: 1 for p in hst + jwst}
    assert stats.path_lookup_batches == (3,)
    assert stats.requests["resolver"] == 1
