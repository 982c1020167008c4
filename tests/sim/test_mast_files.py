"""MAST products on disk: made once, on demand, reused by later starts."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest

from skyhaul.sim.mast.dataset import MastProduct, build_dataset
from skyhaul.sim.mast.files import ProductCache, ProductFile, ProductFiles
from skyhaul.sim.mast.spec import MastSpec

DATASET = build_dataset(MastSpec())
SMALL = [p for p in DATASET.products if p.size < 100_000][:6]


def test_a_product_is_written_with_its_digests_and_reused(tmp_path: Path) -> None:
    cache = ProductCache(tmp_path, DATASET)
    product = SMALL[0]
    made = cache.materialise(product)
    assert made.disk_path == cache.directory / product.obs_id / product.filename
    assert hashlib.sha256(made.disk_path.read_bytes()).hexdigest() == made.sha256
    written = made.disk_path.stat().st_mtime_ns
    again = ProductCache(tmp_path, DATASET).materialise(product)  # as a later start
    assert again == made and made.disk_path.stat().st_mtime_ns == written
    assert not [p for p in made.disk_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_damaged_copy_or_sidecar_is_made_again(tmp_path: Path) -> None:
    cache = ProductCache(tmp_path, DATASET)
    product = SMALL[1]
    made = cache.materialise(product)
    with made.disk_path.open("r+b") as out:
        out.truncate(10)
    assert cache.materialise(product) == made
    assert made.disk_path.stat().st_size == product.size
    sidecar = made.disk_path.with_name(f".{made.disk_path.name}.json")
    sidecar.write_text(json.dumps({"uri": "mast:other", "size": 1}))
    assert cache.materialise(product) == made


def test_the_seed_keys_the_directory_and_bench_shares_it(tmp_path: Path) -> None:
    default = ProductCache(tmp_path, DATASET).directory
    assert ProductCache(tmp_path, build_dataset(MastSpec(bench=True))).directory == default
    assert ProductCache(tmp_path, build_dataset(MastSpec(seed=1))).directory != default


def test_running_store_makes_each_product_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = ProductFiles(ProductCache(tmp_path, DATASET))
    written: list[MastProduct] = []
    original = files.cache.materialise

    def counting(product: MastProduct) -> ProductFile:
        written.append(product)
        return original(product)

    monkeypatch.setattr(files.cache, "materialise", counting)

    async def scenario() -> None:
        together = await asyncio.gather(*(files.get(SMALL[2]) for _ in range(5)))
        assert len({f.sha256 for f in together}) == 1
        many = await files.get_many(SMALL)
        assert [f.product for f in many] == SMALL

    asyncio.run(scenario())
    assert written.count(SMALL[2]) == 1
    assert sorted(p.index for p in written) == sorted(p.index for p in SMALL)
