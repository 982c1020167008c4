"""The FITS content check on files astropy wrote: what passes, what is an integrity failure,
what is read (and what never is)."""

from __future__ import annotations

import asyncio
import io
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from tests.fitsfiles import (
    fits_bytes,
    gzipped,
    hdu_list,
    with_flipped_byte,
    with_wrong_datasum,
)

from skyhaul.adapters.fits import FitsCheck, check_fits, named_fits
from skyhaul.adapters.fits.streams import PIECE
from skyhaul.adapters.fits.walk import BLOCK, WalkStopped
from skyhaul.core.fitsheaders import FitsHeaders
from skyhaul.errors import IntegrityError

DEADLINE = 10.0


class Bytes:
    """Content held in memory; remembers every read (a ``Readable``)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads: list[tuple[int, int]] = []
        self.threads: set[str] = set()

    def read_at(self, offset: int, size: int) -> bytes:
        self.reads.append((offset, size))
        self.threads.add(threading.current_thread().name)
        return self.data[offset : offset + size]

    def read_past(self, offset: int) -> int:
        """Bytes read at or after ``offset``."""
        return sum(
            max(0, min(start + size, len(self.data)) - max(start, offset))
            for start, size in self.reads
        )


def check(data: bytes, name: str = "f.fits") -> FitsHeaders | None:
    return check_fits(Bytes(data), len(data), name)


def checked(data: bytes, name: str = "f.fits") -> FitsHeaders:
    headers = check(data, name)
    assert headers is not None
    return headers


def failure(data: bytes, name: str = "f.fits") -> str:
    with pytest.raises(IntegrityError) as caught:
        check(data, name)
    return str(caught.value)


def test_a_good_file_gives_its_primary_and_science_headers() -> None:
    headers = checked(fits_bytes())
    assert [(h.index, h.name) for h in headers.hdus] == [(0, "PRIMARY"), (2, "SCI")]
    assert ("INSTRUME", "NIRCAM", "") in headers.hdus[0].cards
    assert headers.hdus[1].first("XPOSURE") == 1234.5
    values = headers.values()
    assert (values["instrume"], values["targname"], values["exptime"]) == (
        "NIRCAM",
        "NGC 3132",
        1234.5,
    )
    assert not headers.truncated


def test_without_a_sci_image_the_first_extension_with_data_is_kept() -> None:
    headers = checked(fits_bytes(science=False))
    assert [(h.index, h.name) for h in headers.hdus] == [(0, "PRIMARY"), (1, "CAT")]


def test_a_file_without_checksum_cards_opens_and_its_data_are_never_read() -> None:
    data = fits_bytes(checksum=False)
    content = Bytes(data)
    headers = check_fits(content, len(data), "f.fits")
    assert headers is not None and headers.values()["instrume"] == "NIRCAM"
    with fits.open(io.BytesIO(data)) as hdus:
        layout = [hdu.fileinfo() for hdu in hdus]
    for info in layout:  # only whole header blocks, never a byte of a data unit
        start, end = info["datLoc"], info["datLoc"] + info["datSpan"]
        assert content.read_past(start) - content.read_past(end) == 0, info
    assert len(layout) == 3 and layout[2]["datSpan"] > 0


def test_a_wrong_datasum_written_by_astropy_is_an_integrity_failure() -> None:
    message = failure(with_wrong_datasum(fits_bytes()))
    assert message.startswith("FITS DATASUM mismatch in HDU 2 (SCI)")


def test_a_changed_data_byte_fails_datasum_and_a_changed_header_byte_checksum() -> None:
    data = fits_bytes()
    with fits.open(io.BytesIO(data)) as hdus:
        science = hdus[2].fileinfo()
    assert "DATASUM mismatch in HDU 2" in failure(with_flipped_byte(data, science["datLoc"] + 5))
    assert "CHECKSUM mismatch in HDU 0" in failure(with_flipped_byte(data, 400))


@pytest.mark.parametrize(("index", "name"), [(1, "CAT"), (2, "SCI")])
def test_a_flipped_fill_byte_fails_datasum_as_astropy_finds(index: int, name: str) -> None:
    # The standard's DATASUM sums the whole data unit, its fill to the block included, as
    # astropy sums it (the data's span with its padding): a fill byte changed fails it, in
    # an HDU before the last as in the last.
    data = fits_bytes()
    with fits.open(io.BytesIO(data)) as hdus:
        info, size = hdus[index].fileinfo(), hdus[index].size
        assert (hdus[index].name, len(hdus)) == (name, 3)
    assert size % BLOCK  # there is fill to flip
    damaged = with_flipped_byte(data, info["datLoc"] + info["datSpan"] - 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fits.open(io.BytesIO(damaged), checksum=True):
            pass
    assert any("Datasum verification failed" in str(w.message) for w in caught)
    assert f"DATASUM mismatch in HDU {index} ({name})" in failure(damaged)


@pytest.mark.parametrize(("part", "where"), [("datLoc", "data"), ("hdrLoc", "header")])
def test_a_file_cut_short_is_an_integrity_failure(part: str, where: str) -> None:
    data = fits_bytes()
    with fits.open(io.BytesIO(data)) as hdus:
        cut = hdus[2].fileinfo()[part] + 100
    assert failure(data[:cut]) == f"FITS file cut short: it ends inside the {where} of HDU 2"


def test_a_file_cut_short_fails_without_checksums_too() -> None:
    assert "cut short" in failure(fits_bytes(checksum=False)[:-BLOCK])


def test_a_file_named_fits_that_is_not_fails_and_other_files_pass_unchecked() -> None:
    assert failure(b"<html>not found</html>") == (
        "not a FITS file: it does not start with SIMPLE ="
    )
    assert failure(b"", "f.fit") == "not a FITS file: it does not start with SIMPLE ="
    assert check(b"<html>not found</html>", "f.txt") is None
    assert check(b"", "empty.bin") is None


def test_content_starting_as_fits_is_checked_whatever_its_name() -> None:
    assert checked(fits_bytes(), "f.dat").values()["telescop"] == "JWST"
    assert "DATASUM mismatch" in failure(with_wrong_datasum(fits_bytes()), "f.dat")


@pytest.mark.parametrize(
    ("name", "claimed"),
    [
        ("a.fits", True),
        ("a.FIT", True),
        ("a.fts.gz", True),
        ("a.Fits.GZ", True),
        ("a.fits.fz", False),
        ("a.gz", False),
        ("fits", False),
    ],
)
def test_fits_names(name: str, claimed: bool) -> None:
    assert named_fits(name) is claimed


def test_gzipped_fits_is_checked_decompressed() -> None:
    assert checked(gzipped(fits_bytes()), "f.fits.gz").values()["filter"] == "F277W"
    assert "DATASUM mismatch" in failure(gzipped(with_wrong_datasum(fits_bytes())), "f.fits.gz")
    assert "gzip stream is corrupt or cut short" in failure(
        gzipped(fits_bytes())[:-50], "f.fits.gz"
    )
    # A server that decompressed it on the way still served FITS.
    assert checked(fits_bytes(), "f.fits.gz").values()["instrume"] == "NIRCAM"


def test_missing_fill_at_the_end_and_bytes_after_the_last_hdu_are_let_through() -> None:
    out = io.BytesIO()
    fits.PrimaryHDU(np.arange(7, dtype=">i2")).writeto(out, checksum=True)
    whole = out.getvalue()
    assert checked(whole[: BLOCK + 14]).hdus[0].first("NAXIS1") == 7  # the data, no fill
    assert checked(whole + b"trailing junk" * 300).hdus[0].name == "PRIMARY"


def test_random_groups_are_sized_without_naxis1(tmp_path: Path) -> None:
    data = np.arange(12, dtype=">f4").reshape(3, 4)
    pardata = [np.ones(3, ">f4"), np.zeros(3, ">f4")]
    groups = fits.GroupData(data, parnames=["a", "b"], pardata=pardata, bitpix=-32)
    path = tmp_path / "groups.fits"  # astropy writes groups to files, not to BytesIO
    fits.GroupsHDU(groups).writeto(path, checksum=True)
    written = path.read_bytes()
    assert checked(written).hdus[0].first("GROUPS") is True
    assert "DATASUM mismatch" in failure(with_flipped_byte(written, BLOCK + 7))


def test_large_data_are_summed_in_pieces() -> None:
    out = io.BytesIO()
    hdus = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((2600, 2048), ">f4"))])
    hdus.writeto(out, checksum=True)  # 20 MiB of data
    content = Bytes(out.getvalue())
    assert check_fits(content, len(content.data), "big.fits") is not None
    assert max(size for _, size in content.reads) <= PIECE
    at = 0
    magic = (0, len(b"SIMPLE  ="))  # what tells FITS content, first
    assert content.reads[0] == magic
    for offset, size in content.reads[1:]:  # then every byte once, in order, fill included
        assert offset == at
        at += size
    assert at == len(content.data)


def test_a_set_stop_event_ends_the_walk() -> None:
    data = fits_bytes()
    stop = threading.Event()
    stop.set()
    with pytest.raises(WalkStopped):
        check_fits(Bytes(data), len(data), "f.fits", stop)


async def test_the_check_runs_in_its_own_threads() -> None:
    data = fits_bytes()
    content = Bytes(data)
    check = FitsCheck()
    try:
        headers = await check.inspect(content, len(data), "f.fits")
    finally:
        check.close()
    assert headers is not None
    assert content.threads and all(t.startswith("skyhaul-fits") for t in content.threads)


class Blocking(Bytes):
    """Content whose reads past the first block wait for ``go``."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.waiting = threading.Event()
        self.go = threading.Event()
        self.after_go = 0

    def read_at(self, offset: int, size: int) -> bytes:
        if offset >= BLOCK:
            self.waiting.set()
            self.go.wait(DEADLINE)
            self.after_go += 1
        return super().read_at(offset, size)


async def test_a_cancelled_check_returns_only_once_its_thread_stopped_reading() -> None:
    out = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(np.ones((600, 2048), ">f4"))]).writeto(out, checksum=True)
    content = Blocking(out.getvalue())
    check = FitsCheck()
    task = asyncio.ensure_future(check.inspect(content, len(content.data), "f.fits"))
    try:
        assert await asyncio.to_thread(content.waiting.wait, DEADLINE)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=0.2)
        assert not done  # still waiting for the thread, which is blocked in a read
        content.go.set()
        await asyncio.wait([task], timeout=DEADLINE)
        assert task.cancelled()
        reads = content.after_go
        assert reads == 1  # the read under way, then it stopped: nothing read after
    finally:
        content.go.set()
        check.close()


def test_hdu_list_helper_keeps_its_cards() -> None:
    assert hdu_list()[0].header["TARG_RA"] == 151.757
