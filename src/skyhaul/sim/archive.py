"""The deterministic synthetic archive: which files exist, their sizes and mission metadata.

Rules:
- Everything here is a pure function of an :class:`ArchiveSpec`: the same spec gives the
  same files, paths, sizes, times and pass schedule, on every machine. No I/O.
- Files live at ``raw/<INSTRUMENT>/<yyyymmdd of observation start>/<name>``.
- FITS sizes are whole 2880-byte FITS blocks, at least two (one header, one data row): a
  requested size is rounded to the nearest multiple of 2880 (64 KiB becomes 66 240 bytes).
  The ``blob`` kind (plain random bytes, not FITS) keeps sizes exact, for benchmarks.
- Each file is downlinked during a ground-station pass (a :class:`Slot`) that ends after
  the observation does; the pass schedule covers the archive's days and two more.
- A file's content can change (a new *generation*, see :mod:`skyhaul.sim.decisions`);
  :meth:`ArchiveFile.size_at` gives the size of each generation.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from skyhaul.errors import ConfigError

FITS_BLOCK = 2880
"""Size of a FITS block: every FITS file is a whole number of them."""

FileKind = Literal["fits", "blob"]

KiB = 1024
MiB = 1024 * KiB

INSTRUMENTS: tuple[str, ...] = ("EUI", "PHI", "SPICE", "METIS")
"""Instruments of the default archive (Solar Orbiter remote-sensing suite)."""

STATIONS: tuple[str, ...] = ("MLG", "CEB", "NNO")
"""Ground stations of the pass schedule: Malargüe, Cebreros, New Norcia."""

# Exposure length range in seconds per instrument; others use the default.
_EXPOSURE = {"EUI": (2, 60), "PHI": (60, 600), "SPICE": (300, 1800), "METIS": (60, 900)}
_DEFAULT_EXPOSURE = (10, 600)
_MIN_DOWNLINK_DELAY = timedelta(minutes=30)


@dataclass(frozen=True)
class SizeBand:
    """A share of the archive's files, with sizes spread log-uniformly in a range.

    Parameters
    ----------
    low, high : int
        Smallest and largest size in bytes (equal for an exact size).
    share : float
        Fraction of the files in this band; the shares of a spec are normalised.
    """

    low: int
    high: int
    share: float = 1.0


@dataclass(frozen=True)
class Slot:
    """One ground-station pass: the window in which files are downlinked.

    Parameters
    ----------
    slot : str
        Slot id, ``<yyyymmdd>-<station>``.
    station : str
        Ground station code.
    start, end : datetime
        The pass window (UTC).
    """

    slot: str
    station: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ArchiveFile:
    """One file of the archive, as first published (generation 0).

    Parameters
    ----------
    index : int
        Position in the archive, from 0; part of the content seed.
    path : str
        Archive-relative path, ``raw/<INSTRUMENT>/<yyyymmdd>/<name>``.
    kind : {"fits", "blob"}
        Valid FITS, or plain random bytes.
    size : int
        Size in bytes of generation 0.
    instrument : str
        Instrument that took the observation.
    obs_start, obs_end : datetime
        The observation window (UTC).
    downlink_time : datetime
        When the file reached the ground (UTC), inside the pass ``slot``.
    slot : str
        Id of the ground-station pass that downlinked the file.
    """

    index: int
    path: str
    kind: FileKind
    size: int
    instrument: str
    obs_start: datetime
    obs_end: datetime
    downlink_time: datetime
    slot: str

    def size_at(self, generation: int) -> int:
        """Size of the file's content at ``generation`` (0 is the size as listed first).

        Later generations grow by 0, 1 or 2 FITS rows (2880 bytes) or blob kilobytes,
        in turn, so some changes keep the size and some do not.
        """
        step = FITS_BLOCK if self.kind == "fits" else 1000
        return self.size + (generation % 3) * step

    @property
    def last_modified(self) -> datetime:
        """Publication time of generation 0: a minute after the downlink."""
        return self.downlink_time + timedelta(minutes=1)


@dataclass(frozen=True)
class ArchiveSpec:
    """What to put in a synthetic archive. Equal specs give byte-identical archives.

    Parameters
    ----------
    seed : int
        Seed for metadata, sizes and content.
    count : int
        Number of files.
    sizes : tuple of SizeBand
        Size bands the files are spread over.
    kind : {"fits", "blob"}
        ``fits`` for valid FITS files (sizes rounded to 2880-byte blocks), ``blob`` for
        exact-size random bytes.
    instruments : tuple of str
        Instruments, chosen uniformly per file.
    start : datetime
        First day of observations (UTC).
    days : int
        Number of days observations spread over.
    """

    seed: int = 0
    count: int = 200
    sizes: tuple[SizeBand, ...] = (
        SizeBand(20 * KiB, 2 * MiB, 0.97),
        SizeBand(16 * MiB, 40 * MiB, 0.03),
    )
    kind: FileKind = "fits"
    instruments: tuple[str, ...] = INSTRUMENTS
    start: datetime = datetime(2024, 3, 1, tzinfo=UTC)
    days: int = 7

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ConfigError(f"an archive needs at least one file, got count={self.count}")
        if not self.sizes or any(b.low < 1 or b.high < b.low or b.share <= 0 for b in self.sizes):
            raise ConfigError("size bands need 1 <= low <= high and a share > 0")
        if self.kind not in ("fits", "blob"):
            raise ConfigError(f"archive kind must be 'fits' or 'blob', got {self.kind!r}")
        if not self.instruments or self.days < 1:
            raise ConfigError("an archive needs at least one instrument and one day")
        if self.start.tzinfo is None:
            raise ConfigError("archive start must be timezone-aware (UTC)")

    @classmethod
    def exact(cls, count: int, size: int, kind: FileKind = "blob", seed: int = 0) -> ArchiveSpec:
        """``count`` files of ``size`` bytes each (for FITS, the nearest 2880 multiple).

        Parameters
        ----------
        count : int
            Number of files.
        size : int
            Size of each file in bytes.
        kind : {"blob", "fits"}, optional
            Plain bytes (exact size) or FITS.
        seed : int, optional
            Seed for metadata and content.

        Returns
        -------
        ArchiveSpec
            The spec.
        """
        return cls(seed=seed, count=count, sizes=(SizeBand(size, size),), kind=kind)


PROFILES: dict[str, ArchiveSpec] = {
    # ~200 FITS files: mostly 20 KiB-2 MiB and six of 16-40 MiB (about 250 MiB in all).
    "demo": ArchiveSpec(),
    # 24 small FITS files, for tests: quick to generate, several per instrument.
    "small": ArchiveSpec(count=24, sizes=(SizeBand(8 * KiB, 256 * KiB),), days=3),
    # Benchmarks: few large files, and many small ones.
    "bench-large": ArchiveSpec.exact(4, 256 * MiB),
    "bench-many": ArchiveSpec.exact(2000, 64 * KiB),
}
"""Named archive specs (``skyhaul sim --profile NAME``); replace the seed as needed."""


def profile(name: str, seed: int = 0) -> ArchiveSpec:
    """Return the named profile's spec with ``seed``.

    Parameters
    ----------
    name : str
        One of :data:`PROFILES`.
    seed : int, optional
        Seed for metadata and content.

    Returns
    -------
    ArchiveSpec
        The spec.

    Raises
    ------
    skyhaul.errors.ConfigError
        If there is no such profile.
    """
    try:
        spec = PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise ConfigError(f"unknown archive profile {name!r} (known: {known})") from None
    return dataclasses.replace(spec, seed=seed)


@dataclass(frozen=True)
class Archive:
    """The files and pass schedule a spec describes.

    Parameters
    ----------
    spec : ArchiveSpec
        What was asked for.
    files : tuple of ArchiveFile
        The files, in index order.
    slots : tuple of Slot
        The ground-station pass schedule, in time order.
    """

    spec: ArchiveSpec
    files: tuple[ArchiveFile, ...]
    slots: tuple[Slot, ...]

    @property
    def total_size(self) -> int:
        """Sum of the generation-0 sizes, in bytes."""
        return sum(f.size for f in self.files)

    def by_path(self) -> dict[str, ArchiveFile]:
        """Map each archive path to its file."""
        return {f.path: f for f in self.files}


def build_archive(spec: ArchiveSpec) -> Archive:
    """Lay out the archive a spec describes (metadata only; no bytes are made here).

    Parameters
    ----------
    spec : ArchiveSpec
        What to build.

    Returns
    -------
    Archive
        Files with paths, sizes and mission metadata, and the pass schedule.
    """
    rng = random.Random(f"skyhaul-sim/{spec.seed}")
    slots = _pass_schedule(spec, rng)
    sizes = _sizes(spec, rng)
    files = []
    for index, size in enumerate(sizes):
        instrument = rng.choice(spec.instruments)
        obs_start = _whole_second(spec.start + timedelta(days=rng.random() * spec.days))
        low, high = _EXPOSURE.get(instrument, _DEFAULT_EXPOSURE)
        obs_end = obs_start + timedelta(seconds=rng.randint(low, high))
        slot = next(
            s for s in slots if s.end > obs_end + _MIN_DOWNLINK_DELAY + timedelta(minutes=1)
        )
        earliest = max(slot.start, obs_end + _MIN_DOWNLINK_DELAY)
        downlink = _whole_second(earliest + (slot.end - earliest) * rng.random())
        stem = "solo_L0" if spec.kind == "fits" else "blob"
        ext = "fits" if spec.kind == "fits" else "bin"
        name = f"{stem}_{instrument.lower()}_{obs_start:%Y%m%dT%H%M%S}_{index:05d}.{ext}"
        files.append(
            ArchiveFile(
                index=index,
                path=f"raw/{instrument}/{obs_start:%Y%m%d}/{name}",
                kind=spec.kind,
                size=size,
                instrument=instrument,
                obs_start=obs_start,
                obs_end=obs_end,
                downlink_time=min(downlink, slot.end - timedelta(seconds=1)),
                slot=slot.slot,
            )
        )
    return Archive(spec=spec, files=tuple(files), slots=slots)


def fits_size(size: int) -> int:
    """Round ``size`` to the nearest whole number of FITS blocks, at least two."""
    return max(2, round(size / FITS_BLOCK)) * FITS_BLOCK


def _sizes(spec: ArchiveSpec, rng: random.Random) -> list[int]:
    total_share = sum(b.share for b in spec.sizes)
    counts = [round(spec.count * b.share / total_share) for b in spec.sizes]
    counts[0] += spec.count - sum(counts)  # rounding remainder goes to the first band
    sizes = []
    for band, n in zip(spec.sizes, counts, strict=True):
        for _ in range(max(0, n)):
            log_size = rng.uniform(math.log(band.low), math.log(band.high))
            size = band.low if band.low == band.high else round(math.exp(log_size))
            sizes.append(fits_size(size) if spec.kind == "fits" else size)
    rng.shuffle(sizes)
    return sizes[: spec.count]


def _pass_schedule(spec: ArchiveSpec, rng: random.Random) -> tuple[Slot, ...]:
    slots = []
    first_day = spec.start.replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(spec.days + 2):
        midnight = first_day + timedelta(days=day)
        for k, station in enumerate(STATIONS):
            start = midnight + timedelta(hours=1 + 8 * k, minutes=rng.randint(0, 90))
            end = start + timedelta(minutes=rng.randint(180, 300))
            slots.append(Slot(f"{midnight:%Y%m%d}-{station}", station, start, end))
    return tuple(slots)


def _whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)
