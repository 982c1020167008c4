"""The content check of a transfer (``fits_metadata``), through the engine, a real SQLite
catalog and Python's HTTP server on loopback: a FITS file that fails it is never promoted,
its bytes are forgotten and it is fetched again from byte 0; one that passes is promoted
with its headers stored."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.fitsfiles import fits_bytes, serving, with_wrong_datasum

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileSpec, TransferOptions
from skyhaul.core.paths import part_name
from skyhaul.services.acquire import run_download

from ..conftest import NOW

OPTIONS = TransferOptions(
    max_attempts=2,
    retry_base_delay=0.01,
    retry_max_delay=0.02,
    fits_metadata=True,
    read_timeout=10,
)


@pytest.fixture
def served(tmp_path: Path) -> Path:
    directory = tmp_path / "served"
    directory.mkdir()
    return directory


def _download(catalog: Catalog, options: TransferOptions = OPTIONS):  # type: ignore[no-untyped-def]
    return asyncio.run(run_download(catalog, options))


def test_a_file_failing_its_datasum_is_fetched_again_from_zero_then_abandoned(
    catalog: Catalog, served: Path, tmp_path: Path
) -> None:
    (served / "bad.fits").write_bytes(with_wrong_datasum(fits_bytes()))
    dest = tmp_path / "dest"
    with serving(served) as base:
        catalog.register([FileSpec(base + "bad.fits", "bad.fits")], str(dest), now=NOW)
        summary = _download(catalog)
    assert (summary.downloaded, summary.abandoned) == (0, 1)
    [record] = catalog.list_files()
    assert record.state is FileState.ABANDONED
    assert record.error_class is ErrorClass.INTEGRITY
    assert record.last_error is not None and "DATASUM mismatch" in record.last_error
    attempts = catalog.attempts(record.id)
    assert [(a.outcome, a.error_class) for a in attempts] == [
        ("failed", ErrorClass.INTEGRITY),
        ("abandoned", ErrorClass.INTEGRITY),
    ]
    size = len((served / "bad.fits").read_bytes())
    assert [a.bytes for a in attempts] == [size, size]  # each attempt from byte 0
    assert not (dest / "bad.fits").exists()
    assert not (dest / part_name("bad.fits")).exists()
    assert catalog.segments(record.id) == []
    assert catalog.file_headers(record.id) is None


def test_a_mirror_holding_the_good_file_is_used_after_the_bad_one(
    catalog: Catalog, served: Path, tmp_path: Path
) -> None:
    good = fits_bytes()
    (served / "bad.fits").write_bytes(with_wrong_datasum(good))
    (served / "good.fits").write_bytes(good)
    dest = tmp_path / "dest"
    with serving(served) as base:
        spec = FileSpec(base + "bad.fits", "f.fits", mirrors=(base + "good.fits",))
        catalog.register([spec], str(dest), now=NOW)
        summary = _download(catalog)
    assert summary.downloaded == 1
    assert (summary.integrity_refetched, summary.sources_switched) == (1, 1)
    assert (dest / "f.fits").read_bytes() == good
    [record] = catalog.list_files()
    stored = catalog.file_headers(record.id)
    assert stored is not None and stored.values["TARGNAME"] == "NGC 3132"


def test_a_good_file_is_promoted_with_its_headers_and_mission_metadata(
    catalog: Catalog, served: Path, tmp_path: Path
) -> None:
    (served / "good.fits").write_bytes(fits_bytes())
    (served / "notes.txt").write_bytes(b"not FITS, not checked")
    with serving(served) as base:
        specs = [FileSpec(base + name, name) for name in ("good.fits", "notes.txt")]
        catalog.register(specs, str(tmp_path / "dest"), now=NOW)
        summary = _download(catalog)
    assert summary.downloaded == 2
    good, notes = catalog.list_files()
    stored = catalog.file_headers(good.id)
    assert stored is not None and stored.headers is not None
    assert [h.name for h in stored.headers.hdus] == ["PRIMARY", "SCI"]
    assert stored.values["INSTRUME"] == "NIRCAM" and stored.values["EXPTIME"] == 1234.5
    assert good.instrument == "NIRCAM" and good.obs_start is not None
    assert catalog.file_headers(notes.id) is None


def test_without_fits_metadata_nothing_is_checked_or_stored(
    catalog: Catalog, served: Path, tmp_path: Path
) -> None:
    corrupt = with_wrong_datasum(fits_bytes())
    (served / "bad.fits").write_bytes(corrupt)
    with serving(served) as base:
        catalog.register([FileSpec(base + "bad.fits", "bad.fits")], str(tmp_path), now=NOW)
        summary = _download(catalog, TransferOptions())
    assert summary.downloaded == 1
    [record] = catalog.list_files()
    assert (tmp_path / "bad.fits").read_bytes() == corrupt
    assert catalog.file_headers(record.id) is None and record.instrument is None
