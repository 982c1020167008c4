"""A MAST import of products whose size nobody announces: previews generated on request
(sent chunked, without Content-Length; JWST's URIs hold ``?`` and ``&``) and listed
without a size, so the stream alone tells it. Against the simulator's MAST side."""

from __future__ import annotations

import asyncio
import hashlib
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from email.message import Message
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.mast import MastClient
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import TransferOptions
from skyhaul.services.mast_import import SourceChoice, plan_import, prepare_import
from skyhaul.sim.archive import ArchiveSpec
from skyhaul.sim.config import SimConfig
from skyhaul.sim.thread import SimThread

OPTIONS = TransferOptions(concurrency=8, max_attempts=2, retry_base_delay=0.01)
MIRI = "jw01177-o007_t004_miri_f1280w"  # 6 products, one a JWST preview
HST = "JDBA02020"  # 7 products, one an HST preview


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimThread]:
    archive = ArchiveSpec.exact(1, 1024, seed=1)  # the file archive is not used here
    with SimThread(SimConfig(archive=archive, root=tmp_path_factory.mktemp("mast"))) as running:
        yield running


def _headers(url: str) -> Message:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.headers


async def test_a_preview_listed_without_a_size_learns_it_from_its_stream(
    sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    client = MastClient(sim.mast.server_url)
    try:
        plan = await plan_import(client, [MIRI, HST], source=SourceChoice.HTTP)
    finally:
        await client.aclose()
    previews = {e.filename for e in plan.entries if e.filename.endswith(".jpg")}
    assert len(previews) == 2
    for entry in plan.entries:  # what the import meets: chunked, no length, no ranges
        if entry.filename in previews:
            url = sim.mast.download_url(entry.product.data_uri)
            headers = await asyncio.to_thread(_headers, url)
            assert headers["Transfer-Encoding"] == "chunked"
            assert (headers["Content-Length"], headers["Accept-Ranges"]) == (None, None)
    sim.mast.stats.reset()
    # As a MAST that lists them without a size (0 or none) would.
    unsized = tuple(
        replace(spec, size=None) if entry.filename in previews else spec
        for spec, entry in zip(plan.specs, plan.entries, strict=True)
    )
    run, _ = prepare_import(catalog, replace(plan, specs=unsized), str(tmp_path), OPTIONS)
    registered = {Path(r.path).name: r.size for r in catalog.list_files()}
    assert [registered[name] for name in sorted(previews)] == [None, None]
    summary = (await run.run(asyncio.Event())).summary
    assert (summary.downloaded, summary.failures) == (13, [])
    records = {Path(r.path).name: r for r in catalog.list_files()}
    made = await asyncio.to_thread(
        sim.mast_files, [p for o in (MIRI, HST) for p in sim.mast.products_of(o)]
    )
    for one in made:
        product = one.product
        record = records[product.filename]
        assert record.state is FileState.DOWNLOADED
        data = (tmp_path / record.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == one.http_sha256 == record.sha256
        assert record.size == product.size == len(data)
        assert product.has_content_length is (product.filename not in previews)
    uris = [one.product.data_uri for one in made if one.product.filename in previews]
    assert any("?" in uri and "&" in uri for uri in uris)  # the JWST one's
    downloads = sim.mast.stats.snapshot().downloads
    assert [downloads[uri] for uri in uris] == [1, 1]  # its URI intact, in one GET
