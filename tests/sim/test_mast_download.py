"""``Download/file`` over real HTTP: bytes, validators, ranges, chunked products, faults."""

from __future__ import annotations

import hashlib
from email.utils import format_datetime

import aiohttp
import pytest

from skyhaul.sim import RunningSim
from skyhaul.sim.mast.dataset import MastProduct


def _product(sim: RunningSim, filename: str) -> MastProduct:
    return next(p for p in sim.mast.products if p.filename == filename)


async def test_get_a_product_whole(running: RunningSim, session: aiohttp.ClientSession) -> None:
    product = _product(running, "iepw01010_drz.fits")
    (file,) = await running.mast.files([product])
    async with session.get(running.mast.download_url(product.data_uri)) as response:
        body = await response.read()
        headers = response.headers
    assert response.status == 200
    assert len(body) == product.size == int(headers["Content-Length"])
    assert hashlib.sha256(body).hexdigest() == file.sha256 == file.http_sha256
    assert body == file.disk_path.read_bytes()
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["ETag"] == file.etag
    assert headers["Last-Modified"] == format_datetime(file.last_modified, usegmt=True)
    assert headers["Content-Type"] == "application/fits"
    assert headers["Content-Disposition"] == 'attachment; filename="iepw01010_drz.fits"'
    async with session.get(running.base_url + "_sim/stats") as response:  # after the body
        assert (await response.json())["bytes_by_path"] == {product.data_uri: product.size}
    assert running.mast.stats.snapshot().downloads == {product.data_uri: 1}


async def test_head_then_ranges(running: RunningSim, session: aiohttp.ClientSession) -> None:
    product = _product(running, "iepw01010_asn.fits")
    url = running.mast.download_url(product.data_uri)
    async with session.head(url) as response:
        assert response.status == 200 and await response.read() == b""
        assert int(response.headers["Content-Length"]) == product.size
        etag = response.headers["ETag"]
    async with session.get(url) as response:
        whole = await response.read()
    async with session.get(url, headers={"Range": "bytes=100-"}) as response:
        assert response.status == 206
        assert response.headers["Content-Range"] == f"bytes 100-{product.size - 1}/{product.size}"
        assert await response.read() == whole[100:]
    async with session.get(url, headers={"Range": "bytes=100-", "If-Range": etag}) as response:
        assert response.status == 206
    modified = response.headers["Last-Modified"]
    async with session.get(url, headers={"Range": "bytes=9-", "If-Range": modified}) as response:
        assert response.status == 206
    async with session.get(url, headers={"Range": "bytes=1-", "If-Range": '"old"'}) as response:
        assert response.status == 200 and await response.read() == whole
    past = f"bytes={product.size}-"
    async with session.get(url, headers={"Range": past}) as response:
        assert response.status == 416
        assert response.headers["Content-Range"] == f"bytes */{product.size}"
    assert running.mast.stats.snapshot().heads == {product.data_uri: 1}


async def test_a_generated_product_comes_chunked_without_length_or_ranges(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    product = next(p for p in running.mast.products if not p.has_content_length)
    assert "?" in product.data_uri  # a JWST preview: quoting matters
    (file,) = await running.mast.files([product])
    url = running.mast.download_url(product.data_uri)
    async with session.get(url, headers={"Range": "bytes=0-9"}) as response:
        body = await response.read()
        assert response.status == 200  # no ranges on a generated product
        assert "Content-Length" not in response.headers
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert "Accept-Ranges" not in response.headers
        assert response.headers["Content-Type"] == "image/jpeg"
    assert hashlib.sha256(body).hexdigest() == file.sha256
    async with session.head(url) as response:
        assert response.status == 200 and "Content-Length" not in response.headers


async def test_knobs_turn_validators_and_ranges_off(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    product = _product(running, "iepw01010_asn.fits")
    url = running.mast.download_url(product.data_uri)
    running.mast.set_knobs(etag=False, last_modified=False, ranges=False)
    async with session.get(url, headers={"Range": "bytes=0-9"}) as response:
        body = await response.read()
        assert response.status == 200 and len(body) == product.size
        for header in ("ETag", "Last-Modified", "Accept-Ranges"):
            assert header not in response.headers
    running.mast.set_knobs(ranges=True)
    async with session.get(url, headers={"Range": "bytes=0-9"}) as response:
        assert response.status == 206 and "ETag" not in response.headers
    (file,) = await running.mast.files([product])
    for validator in (file.etag, format_datetime(file.last_modified, usegmt=True)):
        headers = {"Range": "bytes=0-9", "If-Range": validator}  # never sent: never matches
        async with session.get(url, headers=headers) as response:
            assert response.status == 200


async def test_the_corrupt_product_is_wrong_over_http_at_its_offsets(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    product = next(p for p in running.mast.products if p.corrupt_http)
    (file,) = await running.mast.files([product])
    url = running.mast.download_url(product.data_uri)
    async with session.get(url) as response:
        body = await response.read()
    assert len(body) == product.size
    assert hashlib.sha256(body).hexdigest() == file.http_sha256 != file.sha256
    on_disk = file.disk_path.read_bytes()
    assert [i for i in range(len(body)) if body[i] != on_disk[i]] == list(product.corrupt_offsets)
    at = product.corrupt_offsets[0]
    async with session.get(url, headers={"Range": f"bytes={at - 5}-{at + 5}"}) as response:
        assert await response.read() == body[at - 5 : at + 6]  # a resumed range is wrong too


async def test_unknown_or_missing_uris(running: RunningSim, session: aiohttp.ClientSession) -> None:
    async with session.get(running.mast.download_url("mast:HST/product/nope.fits")) as response:
        assert response.status == 404
    async with session.get(running.base_url + "api/v0.1/Download/file") as response:
        assert response.status == 400
    assert running.mast.stats.snapshot().requests["download"] == 2


async def test_the_fault_knobs_apply_keyed_by_uri(
    running: RunningSim, session: aiohttp.ClientSession
) -> None:
    failing = _product(running, "iepw01abq_raw.fits")
    cut = _product(running, "iepw01abq_spt.fits")
    running.set_faults(fail_paths={failing.data_uri: 503}, drop_after=2000)
    async with session.get(running.mast.download_url(failing.data_uri)) as response:
        assert response.status == 503
    with pytest.raises(aiohttp.ClientPayloadError):
        async with session.get(running.mast.download_url(cut.data_uri)) as response:
            await response.read()
    snapshot = running.stats.snapshot()
    assert snapshot.dropped == 1 and snapshot.bytes_by_path[cut.data_uri] == 2000
    assert snapshot.by_status[503] == 1
