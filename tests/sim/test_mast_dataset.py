"""The simulated MAST's dataset: deterministic, three missions, the fixed faults, bench."""

from __future__ import annotations

import pytest

from skyhaul.errors import ConfigError
from skyhaul.sim.archive import FITS_BLOCK
from skyhaul.sim.mast.catalog import PLANS, TARGETS
from skyhaul.sim.mast.dataset import BENCH_TOTAL, MiB, build_dataset
from skyhaul.sim.mast.spec import MAST_PROFILES, MastSpec, mast_profile

DEFAULT = build_dataset(MastSpec())


def test_equal_specs_give_equal_datasets_and_the_seed_changes_sizes_only() -> None:
    again = build_dataset(MastSpec())
    assert again == DEFAULT
    other = build_dataset(MastSpec(seed=7))
    assert [p.data_uri for p in other.products] == [p.data_uri for p in DEFAULT.products]
    assert [p.size for p in other.products] != [p.size for p in DEFAULT.products]


def test_a_dozen_observations_of_three_missions_with_3_to_30_products() -> None:
    assert len(DEFAULT.observations) == 12
    assert {o.obs_collection for o in DEFAULT.observations} == {"JWST", "HST", "TESS"}
    counts = [len(DEFAULT.products_of(o.obs_id)) for o in DEFAULT.observations]
    assert min(counts) == 3 and max(counts) == 30
    assert len({o.obsid for o in DEFAULT.observations}) == 12
    assert len({p.data_uri for p in DEFAULT.products}) == len(DEFAULT.products)
    assert [p.index for p in DEFAULT.products] == list(range(len(DEFAULT.products)))


def test_sizes_are_modest_with_two_large_fits_products() -> None:
    assert 20 * MiB < DEFAULT.total_size < 40 * MiB
    large = sorted((p for p in DEFAULT.products if p.size > 5 * MiB), key=lambda p: p.size)
    assert [p.filename for p in large] == [
        "tess2019140104343-s0012-0000000261136679-0144-s_tp.fits",
        "jw02727-o002_t062_nircam_clear-f277w_i2d.fits",
    ]
    fits_products = [p for p in DEFAULT.products if p.kind == "fits"]
    assert all(p.size % FITS_BLOCK == 0 and p.size >= 3 * FITS_BLOCK for p in fits_products)
    assert {p.kind for p in DEFAULT.products} == {"fits", "json", "txt", "ecsv", "jpg"}


def test_cloud_keys_follow_stpubdata_and_some_products_are_not_in_the_cloud() -> None:
    by_name = {p.filename: p for p in DEFAULT.products}
    i2d = by_name["jw02727-o002_t062_nircam_clear-f277w_i2d.fits"]
    assert i2d.data_uri == "mast:JWST/product/jw02727-o002_t062_nircam_clear-f277w_i2d.fits"
    assert i2d.cloud_key == (
        "jwst/public/jw02727/L3/t/o002/jw02727-o002_t062_nircam_clear-f277w_i2d.fits"
    )
    assert by_name["iepw01abq_flt.fits"].cloud_key == "hst/public/iepw/iepw01abq/iepw01abq_flt.fits"
    lc = by_name["tess2019140104343-s0012-0000000261136679-0144-s_lc.fits"]
    assert lc.cloud_key == (
        "tess/public/tid/s0012/0000/0002/6113/6679/"
        "tess2019140104343-s0012-0000000261136679-0144-s_lc.fits"
    )
    absent = [p for p in DEFAULT.products if p.cloud_key is None]
    assert {p.kind for p in absent} == {"jpg", "txt", "fits"}  # previews, logs, HST _spt
    assert all(p.filename.endswith(("_spt.fits", ".jpg", ".txt")) for p in absent)


def test_previews_are_generated_without_a_content_length() -> None:
    generated = [p for p in DEFAULT.products if not p.has_content_length]
    assert generated and all(p.kind == "jpg" and p.cloud_key is None for p in generated)
    jwst = [p for p in generated if p.observation.obs_collection == "JWST"]
    assert jwst[0].data_uri.startswith("mast:JWST/preview/") and "?" in jwst[0].data_uri
    assert "&" in jwst[0].data_uri


def test_one_product_is_corrupted_over_http_and_one_has_a_wrong_datasum() -> None:
    corrupt = [p for p in DEFAULT.products if p.corrupt_http]
    bad = [p for p in DEFAULT.products if p.bad_datasum]
    assert [p.data_uri for p in corrupt] == ["mast:HST/product/iepw01abq_flt.fits"]
    assert [p.data_uri for p in bad] == [
        "mast:JWST/product/jw01366004001_02101_00001_nrs1_cal.fits"
    ]
    (one,) = corrupt
    assert all(2 * FITS_BLOCK <= at < one.size for at in one.corrupt_offsets)
    assert len(one.corrupt_offsets) == 3 and bad[0].cloud_key is not None
    assert all(p.corrupt_offsets == () for p in DEFAULT.products if not p.corrupt_http)


def test_observations_are_placed_on_their_targets() -> None:
    targets = {t.name: t for t in TARGETS}
    for observation, plan in zip(DEFAULT.observations, PLANS, strict=True):
        target = targets[plan.target]
        assert abs(observation.s_dec - target.dec) < 0.01
        assert observation.t_min < observation.t_max
        assert observation.instrument == plan.instrument_name.split("/")[0]
    assert DEFAULT.observation("IEPW01010") is DEFAULT.observation(24139001)
    assert DEFAULT.observation("24139001").obs_id == "IEPW01010"
    with pytest.raises(KeyError):
        DEFAULT.observation("nope")
    assert DEFAULT.product("mast:HST/product/nope.fits") is None


def test_the_bench_profile_adds_200_products_of_2_gib() -> None:
    bench = build_dataset(mast_profile("bench"))
    assert bench.products[: len(DEFAULT.products)] == DEFAULT.products
    observation = bench.observations[-1]
    products = bench.products_of(observation.obs_id)
    assert len(products) == 200
    assert abs(sum(p.size for p in products) - BENCH_TOTAL) < FITS_BLOCK
    sizes = sorted(p.size for p in products)
    assert sizes[0] < 256 * 1024 and sizes[-1] > 64 * MiB  # mixed sizes
    assert all(p.kind == "fits" and p.cloud_key and p.has_content_length for p in products)
    assert not any(p.corrupt_http or p.bad_datasum for p in products)
    assert "COSMOS" in {t.name for t in bench.targets}
    assert "COSMOS" not in {t.name for t in DEFAULT.targets}


def test_profiles_by_name() -> None:
    assert MAST_PROFILES == ("default", "bench")
    assert mast_profile("default", seed=3) == MastSpec(seed=3)
    assert mast_profile("bench").profile == "bench"
    with pytest.raises(ConfigError, match="unknown MAST profile 'huge'"):
        mast_profile("huge")
