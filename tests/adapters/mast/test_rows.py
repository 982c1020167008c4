"""MAST rows as typed values: MAST's column names, tolerant reading, MJD times in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.adapters.mast.fake_mast import observation, product

from skyhaul.adapters.mast import Observation, Product, mjd_to_utc


def test_an_observation_is_read_from_mast_columns() -> None:
    row = observation(87602009, "jw02727-o002_t062_nircam_clear-f277w", extra="kept")
    read = Observation.from_row(row)
    assert read is not None
    assert (read.obsid, read.obs_id, read.mission) == (
        "87602009",
        "jw02727-o002_t062_nircam_clear-f277w",
        "JWST",
    )
    assert (read.target, read.instrument, read.calib_level) == ("NGC-1300", "NIRCAM/IMAGE", 3)
    assert read.start == datetime(2022, 8, 9, 6, 0, tzinfo=UTC)
    assert read.end == datetime(2022, 8, 9, 12, 0, tzinfo=UTC)
    assert read.record["extra"] == "kept"


def test_ids_as_numbers_or_text_and_missing_columns_are_tolerated() -> None:
    read = Observation.from_row({"obsid": 2003585980, "obs_id": "U27XCS01T", "t_min": None})
    assert read is not None
    assert read.obsid == "2003585980"
    assert (read.mission, read.start, read.calib_level) == (None, None, None)
    odd = Observation.from_row(
        {"obsid": 1.0, "obs_id": " X ", "calib_level": "2", "s_ra": "nan", "t_max": 1e12}
    )
    assert odd is not None
    assert (odd.obsid, odd.obs_id, odd.calib_level, odd.ra, odd.end) == ("1", "X", 2, None, None)


def test_a_row_that_identifies_nothing_is_none() -> None:
    assert Observation.from_row({"obs_id": "X"}) is None
    assert Observation.from_row({"obsid": "1", "obs_id": ""}) is None
    assert Product.from_row({"productFilename": "a.fits"}) is None


def test_a_product_is_read_with_its_size() -> None:
    read = Product.from_row(product(1, "jw1", "jw1_i2d.fits", 1234))
    assert read is not None
    assert (read.data_uri, read.filename, read.product_type, read.size) == (
        "mast:JWST/product/jw1_i2d.fits",
        "jw1_i2d.fits",
        "SCIENCE",
        1234,
    )
    for bad in (None, -1, "many", True, 1.5):
        sized = Product.from_row({"dataURI": "mast:X/a", "size": bad})
        assert sized is not None and sized.size is None
    assert Product.from_row({"dataURI": "mast:X/a", "size": 2048.0}).size == 2048  # type: ignore[union-attr]


def test_mjd_to_utc() -> None:
    assert mjd_to_utc(0.0) == datetime(1858, 11, 17, tzinfo=UTC)
    assert mjd_to_utc(51544.5) == datetime(2000, 1, 1, 12, tzinfo=UTC)
    assert mjd_to_utc(None) is None
    assert mjd_to_utc(1e9) is None
