"""The simulated observatory: layout, sizes, atomic writes, numbering and pacing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from skyhaul.core.scanpattern import ScanPattern
from skyhaul.errors import ConfigError
from skyhaul.sim.observatory import STATE_FILE, Observatory


def test_write_lays_files_out_by_unit_and_module(tmp_path: Path) -> None:
    written = Observatory(tmp_path, units=3, modules=2, seed=5, sizes=(100, 50_000)).write(30)
    assert len(written) == 30
    layout = ScanPattern.parse("{obs_unit}/{instrument_module}/**")
    pairs = set()
    for entry in written:
        data = (tmp_path / entry.path).read_bytes()
        assert len(data) == entry.size and 100 <= entry.size <= 50_000
        assert hashlib.sha256(data).hexdigest() == entry.sha256
        assert layout.match(entry.path) == {
            "obs_unit": entry.obs_unit,
            "instrument_module": entry.instrument_module,
        }
        pairs.add((entry.obs_unit, entry.instrument_module))
    assert len(pairs) == 6  # every unit got files from every module
    assert len({e.size for e in written}) > 20  # mixed sizes
    assert any(e.path.count("/") == 3 for e in written)  # some in subdirectories
    assert any(e.path.count("/") == 2 for e in written)
    hidden = [p for p in tmp_path.rglob(".*") if p.name != STATE_FILE]
    assert hidden == []  # no temporary file left behind


def test_same_seed_same_files_and_a_rerun_continues_the_numbering(tmp_path: Path) -> None:
    first = Observatory(tmp_path / "a", seed=9).write(4)
    again = Observatory(tmp_path / "b", seed=9).write(4)
    assert first == again
    other_seed = Observatory(tmp_path / "c", seed=10).write(4)
    assert [e.sha256 for e in other_seed] != [e.sha256 for e in first]
    rerun = Observatory(tmp_path / "a", seed=9).write(3)
    assert not {e.path for e in rerun} & {e.path for e in first}
    assert json.loads((tmp_path / "a" / STATE_FILE).read_text()) == {"next": 7}


def test_fixed_size(tmp_path: Path) -> None:
    written = Observatory(tmp_path, sizes=(4096, 4096)).write(5)
    assert {e.size for e in written} == {4096}


class FakeTime:
    """A clock that only moves when the observatory waits."""

    def __init__(self, stop_at: float | None = None) -> None:
        self.now = 100.0
        self.waits: list[float] = []
        self.stop_at = stop_at

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return self.stop_at is not None and self.now >= self.stop_at


def test_run_paces_files_at_the_rate_until_the_count(tmp_path: Path) -> None:
    time = FakeTime()
    seen: list[str] = []
    totals = Observatory(tmp_path, rate=4.0, sizes=(10, 10)).run(
        count=5, clock=time.clock, wait=time.wait, on_file=lambda e: seen.append(e.path)
    )
    assert (totals.files, totals.bytes) == (5, 50)
    assert time.waits == [0.0, 0.25, 0.25, 0.25, 0.25]
    assert len(seen) == 5 and all((tmp_path / p).is_file() for p in seen)


def test_run_stops_at_the_duration_or_when_told(tmp_path: Path) -> None:
    time = FakeTime()
    totals = Observatory(tmp_path / "d", rate=10.0, sizes=(1, 1)).run(
        duration=1.0, clock=time.clock, wait=time.wait
    )
    assert totals.files == 10  # due at 0.0, 0.1, ... 0.9
    stopped = FakeTime(stop_at=100.35)
    totals = Observatory(tmp_path / "s", rate=10.0, sizes=(1, 1)).run(
        clock=stopped.clock, wait=stopped.wait
    )
    assert totals.files == 4  # due at 0.0, 0.1, 0.2, 0.3; stopped while waiting for 0.4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 0.0}, "--rate"),
        ({"units": 0}, "--units"),
        ({"modules": 0}, "--modules"),
        ({"sizes": (10, 5)}, "--size"),
        ({"sizes": (0, 5)}, "--size"),
    ],
)
def test_bad_settings_are_config_errors(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Observatory(tmp_path, **kwargs)  # type: ignore[arg-type]


def test_a_foreign_state_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text("[]")
    with pytest.raises(ConfigError, match="not the observatory's state file"):
        Observatory(tmp_path).write(1)
