"""The MAST import benchmark's own judgement: what counts as corrupt, and its targets."""

from __future__ import annotations

import hashlib
from pathlib import Path

from benchmarks.bench_mast import (
    BANDWIDTH,
    Census,
    Killed,
    Product,
    Timed,
    census,
    targets,
)
from benchmarks.procs import Measurement

MiB = 1 << 20
SETTING = f"{BANDWIDTH // MiB} MiB/s per connection"


def _product(name: str, body: bytes) -> Product:
    return Product(name, len(body), hashlib.sha256(body).hexdigest(), name.endswith(".fits"))


def test_census_finds_products_by_name_and_ignores_part_files(tmp_path: Path) -> None:
    deep = tmp_path / "mastDownload" / "JWST" / "obs"
    deep.mkdir(parents=True)
    (deep / "a.fits").write_bytes(b"right")
    (deep / "b.fits").write_bytes(b"wrong")
    (deep / "c.json").write_bytes(b"wrong")
    (deep / "d.fits.skyhaul.part").write_bytes(b"half")
    products = [
        _product("a.fits", b"right"),
        _product("b.fits", b"other"),
        _product("c.json", b"other"),
        _product("d.fits", b"whole"),
    ]
    assert census(products, tmp_path) == Census(right=1, corrupt=2, corrupt_fits=1, missing=1)


def _timed(client: str, wall: float, right: int = 2) -> Timed:
    return Timed(client, SETTING, Measurement(wall, 1.0, 0, False), Census(right, 0, 0, 2 - right))


def _killed(corrupt: int, *, killed: bool = True) -> Killed:
    census = Census(2 - corrupt, corrupt, corrupt, 0)
    return Killed("skyhaul", "ranges honoured", 10, killed, (-9, 0), 1.0, census)


def test_targets_need_three_times_astroquery_and_nothing_corrupt() -> None:
    fast = [_timed("skyhaul", 1.0), _timed("astroquery", 3.5)]
    speed, kill = targets(fast, [_killed(0)], 2)
    assert (speed.verdict, kill.verdict) == ("met", "met")
    slow = [_timed("skyhaul", 2.0), _timed("astroquery", 3.5)]
    assert targets(slow, [_killed(1)], 2)[0].verdict == "missed"
    assert targets(slow, [_killed(1)], 2)[1].verdict == "missed"
    # Fast but incomplete is no win; a run that ended before the kill proves nothing.
    assert targets([_timed("skyhaul", 1.0, right=1), _timed("astroquery", 9)], [], 2)[
        0
    ].verdict == ("missed")
    assert targets(fast, [_killed(0, killed=False)], 2)[1].verdict == "missed"
