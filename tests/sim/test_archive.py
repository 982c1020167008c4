from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from skyhaul.errors import ConfigError
from skyhaul.sim import FITS_BLOCK, PROFILES, ArchiveSpec, SizeBand, build_archive, profile
from skyhaul.sim.archive import KiB, MiB, fits_size


def test_same_spec_same_archive() -> None:
    assert build_archive(profile("demo", seed=7)) == build_archive(profile("demo", seed=7))
    assert build_archive(profile("demo", seed=7)) != build_archive(profile("demo", seed=8))


def test_demo_profile_mix() -> None:
    archive = build_archive(profile("demo"))
    sizes = [f.size for f in archive.files]
    assert len(sizes) == 200
    big = [s for s in sizes if s >= 16 * MiB]
    assert 3 <= len(big) <= 10
    assert all(16 * MiB - FITS_BLOCK <= s <= 40 * MiB + FITS_BLOCK for s in big)
    assert all(20 * KiB - FITS_BLOCK <= s <= 2 * MiB + FITS_BLOCK for s in sizes if s not in big)
    assert {f.instrument for f in archive.files} == {"EUI", "PHI", "SPICE", "METIS"}
    assert all(s % FITS_BLOCK == 0 for s in sizes)


def test_paths_and_mission_metadata() -> None:
    archive = build_archive(profile("small"))
    slots = {s.slot: s for s in archive.slots}
    paths = [f.path for f in archive.files]
    assert len(set(paths)) == len(paths)
    for f in archive.files:
        assert f.path.startswith(f"raw/{f.instrument}/{f.obs_start:%Y%m%d}/")
        assert f.path.endswith(".fits")
        assert f.obs_start < f.obs_end
        slot = slots[f.slot]
        assert slot.start <= f.downlink_time < slot.end
        assert f.downlink_time >= f.obs_end + timedelta(minutes=30)
        assert f.obs_start.microsecond == 0 and f.obs_start.utcoffset() == timedelta(0)


def test_pass_schedule_is_ordered_without_overlap_per_station() -> None:
    slots = build_archive(profile("small")).slots
    assert [s.start for s in slots] == sorted(s.start for s in slots)
    assert all(s.start < s.end for s in slots)
    assert len({s.slot for s in slots}) == len(slots)
    assert all(a.end <= b.start for a, b in itertools.pairwise(slots))


def test_exact_sizes() -> None:
    blobs = build_archive(ArchiveSpec.exact(5, 64 * KiB))
    assert [f.size for f in blobs.files] == [64 * KiB] * 5
    assert all(f.path.endswith(".bin") for f in blobs.files)
    fits = build_archive(ArchiveSpec.exact(2, 64 * KiB, kind="fits"))
    assert [f.size for f in fits.files] == [66240, 66240]  # 23 blocks of 2880 bytes


def test_fits_size_rounds_to_blocks_with_a_minimum_of_two() -> None:
    assert fits_size(1) == 2 * FITS_BLOCK
    assert fits_size(65536) == 23 * FITS_BLOCK
    assert fits_size(3 * FITS_BLOCK + 1439) == 3 * FITS_BLOCK


def test_generation_sizes_change_for_some_generations() -> None:
    f = build_archive(profile("small")).files[0]
    assert f.size_at(0) == f.size
    assert f.size_at(1) == f.size + FITS_BLOCK
    assert f.size_at(3) == f.size


def test_profiles_and_bad_specs() -> None:
    assert set(PROFILES) >= {"demo", "small", "bench-large", "bench-many"}
    assert profile("bench-large").count == 4
    assert profile("bench-many").sizes == (SizeBand(64 * KiB, 64 * KiB),)
    with pytest.raises(ConfigError, match="unknown archive profile"):
        profile("huge")
    with pytest.raises(ConfigError):
        ArchiveSpec(count=0)
    with pytest.raises(ConfigError):
        ArchiveSpec(sizes=(SizeBand(10, 5),))
