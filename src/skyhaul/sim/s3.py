"""The simulator's archive as S3: moto on loopback, one bucket of the same files, faults.

Rules:
- :func:`start_s3_sim` materialises the archive from the same cache as the HTTP simulator
  (same bytes; the archive paths are the keys), starts moto's ``ThreadedMotoServer`` on
  loopback, creates the bucket, uploads each file in one PUT (so its ETag is its MD5, as
  S3 gives a single-part upload) with the ``public-read`` ACL, so that anyone reads it
  without a signature, then starts the fault proxy (:mod:`skyhaul.sim.s3_proxy`) in
  front. :attr:`RunningS3Sim.endpoint` is the proxy's. Without the proxy (``proxy=False``,
  for a server whose faults never change) it is moto's own: the proxy costs about a
  third of moto's throughput.
- Setup talks to moto with boto3 (a dependency of moto) and :data:`SIM_CREDENTIALS`;
  moto does not check signatures, so any keys sign for it.
- moto keeps its state per process: two simulators in one process need two bucket names.
  Closing empties and deletes the bucket, then stops moto.
- :meth:`RunningS3Sim.change_object` gives a file its next generation on disk (as the
  HTTP simulator's ``change_file`` does) and uploads it: the ETag changes for real.
- With ``mast_bucket`` (``skyhaul sim --s3`` sets it to ``stpubdata``), the simulated
  MAST's products that are in the cloud are also uploaded, to that bucket under their
  keys (:attr:`skyhaul.sim.mast.dataset.MastProduct.cloud_key`), made from the same
  cache as the HTTP side (the bench observation only with the bench profile). Off by
  default in Python: moto's buckets are per process, and one name cannot serve two
  simulators at once.
- moto and boto3 are imported by :func:`require_moto`, never when ``skyhaul.sim`` loads.
- :class:`skyhaul.sim.s3_thread.S3SimThread` runs it in a background thread, for tests.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyhaul.errors import ConfigError
from skyhaul.sim.archive import build_archive
from skyhaul.sim.cache import ArchiveCache, FileVersion
from skyhaul.sim.config import SimConfig
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.mast.cloud import MastS3Object, cloud_files
from skyhaul.sim.mast.files import ProductFile
from skyhaul.sim.s3_proxy import RunningProxy, start_proxy
from skyhaul.sim.server import http_origin
from skyhaul.sim.stats import SimStats
from skyhaul.sim.store import FileStore

DEFAULT_BUCKET = "skyhaul-sim"
SIM_CREDENTIALS = ("skyhaul-sim", "skyhaul-sim-secret")
"""Access key id and secret the simulator signs its setup with (moto takes any)."""
SIM_REGION = "us-east-1"
_UPLOAD_THREADS = 4


def require_moto() -> Any:
    """Import moto's server (and so flask and boto3) and return its module.

    Raises
    ------
    skyhaul.errors.ConfigError
        If moto's server mode cannot be imported, naming the extra that installs it.
    """
    try:
        import boto3  # noqa: F401  # moto's dependency; imported here to fail early
        from moto import server
    except ImportError as exc:
        raise ConfigError(
            f"the S3 simulator needs moto[s3], flask and flask-cors ({exc.name or exc} is"
            " missing): pip install 'skyhaul[s3sim]'"
        ) from None
    return server


@dataclass(frozen=True)
class S3Object:
    """One object of the simulated bucket.

    Parameters
    ----------
    bucket : str
        The bucket.
    version : FileVersion
        The archive file and generation it holds (``version.file.path`` is the key).
    etag : str
        The ETag moto gave it, quoted.
    """

    bucket: str
    version: FileVersion
    etag: str

    @property
    def key(self) -> str:
        """The object key (the archive path)."""
        return self.version.file.path

    @property
    def size(self) -> int:
        """Size in bytes."""
        return self.version.size

    @property
    def url(self) -> str:
        """``s3://BUCKET/KEY``."""
        return f"s3://{self.bucket}/{self.key}"


class RunningS3Sim:
    """moto, its bucket and the fault proxy in front; :func:`start_s3_sim` makes one.

    Attributes
    ----------
    bucket : str
        The bucket holding the archive.
    moto_endpoint : str
        moto's own endpoint (no faults), ``http://HOST:PORT``.
    proxy : RunningProxy or None
        The fault proxy in front of moto, if any.
    mast_bucket : str or None
        The bucket holding MAST's cloud products, if they were uploaded.
    """

    def __init__(self, moto: Any, client: Any, store: FileStore, bucket: str) -> None:
        self._moto = moto
        self._client = client
        self._store = store
        self.proxy: RunningProxy | None = None
        self._etags: dict[str, str] = {}
        self.bucket = bucket
        self.mast_bucket: str | None = None
        self._mast_objects: list[MastS3Object] = []
        self._idle_stats = SimStats()
        self.moto_endpoint = _endpoint(moto)

    @property
    def endpoint(self) -> str:
        """The endpoint to use, ``http://HOST:PORT``: the fault proxy's, else moto's."""
        return self.proxy.endpoint if self.proxy is not None else self.moto_endpoint

    @property
    def stats(self) -> SimStats:
        """Counters of the requests through the proxy (none without it)."""
        return self.proxy.state.stats if self.proxy is not None else self._idle_stats

    @property
    def faults(self) -> FaultConfig:
        """The fault knobs in force (none without the proxy)."""
        return self.proxy.faults if self.proxy is not None else FaultConfig()

    def set_faults(self, faults: FaultConfig | None = None, /, **changes: object) -> FaultConfig:
        """Put new fault knobs in force; see :meth:`RunningProxy.set_faults`.

        Raises
        ------
        skyhaul.errors.ConfigError
            If the simulator runs without its fault proxy, or for a knob it cannot honour.
        """
        if self.proxy is None:
            raise ConfigError("this S3 simulator runs without its fault proxy")
        return self.proxy.set_faults(faults, **changes)

    def objects(self) -> list[S3Object]:
        """Every object as now uploaded, in archive order."""
        return [S3Object(self.bucket, v, self._etags[v.file.path]) for v in self._store.versions()]

    def url_for(self, key: str) -> str:
        """``s3://BUCKET/KEY``."""
        return f"s3://{self.bucket}/{key}"

    def mast_objects(self) -> list[MastS3Object]:
        """MAST's cloud products as uploaded to :attr:`mast_bucket` (none without it)."""
        return list(self._mast_objects)

    async def upload_mast(self, bucket: str, files: list[ProductFile]) -> None:
        """Create ``bucket`` and upload MAST products to it under their cloud keys."""
        await asyncio.to_thread(_create_bucket, self._client, bucket)
        self.mast_bucket = bucket  # from here on, closing removes it
        with ThreadPoolExecutor(_UPLOAD_THREADS, thread_name_prefix="skyhaul-s3-put") as pool:
            loop = asyncio.get_running_loop()
            etags = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        pool, self._put_file, bucket, str(f.product.cloud_key), f.disk_path, f.size
                    )
                    for f in files
                )
            )
        self._mast_objects = [
            MastS3Object(bucket, f, etag) for f, etag in zip(files, etags, strict=True)
        ]

    async def upload(self, versions: list[FileVersion]) -> None:
        """Upload the given versions (one PUT each, a few at once, off the event loop)."""
        with ThreadPoolExecutor(_UPLOAD_THREADS, thread_name_prefix="skyhaul-s3-put") as pool:
            loop = asyncio.get_running_loop()
            etags = await asyncio.gather(
                *(loop.run_in_executor(pool, self._put, v) for v in versions)
            )
        for version, etag in zip(versions, etags, strict=True):
            self._etags[version.file.path] = etag

    def _put(self, version: FileVersion) -> str:
        return self._put_file(self.bucket, version.file.path, version.disk_path, version.size)

    def _put_file(self, bucket: str, key: str, path: Path, size: int) -> str:
        with path.open("rb") as body:
            # An object ACL, not a bucket policy: moto checks a HEAD against the action
            # "s3:HeadObject", which no real policy names, so a policy would serve GET only.
            answer = self._client.put_object(
                Bucket=bucket, Key=key, Body=body, ContentLength=size, ACL="public-read"
            )
        return str(answer["ETag"])

    async def change_object(self, key: str) -> S3Object:
        """Give the object at ``key`` new content (its file's next generation), uploaded.

        Raises
        ------
        KeyError
            If there is no such object.
        """
        if self._store.current(key) is None:
            raise KeyError(key)
        version = await self._store.advance(key)
        await self.upload([version])
        self.stats.record_event("changed")
        return S3Object(self.bucket, version, self._etags[key])

    async def close(self) -> None:
        """Stop the proxy, empty and delete the bucket, stop moto."""
        try:
            if self.proxy is not None:
                await self.proxy.close()
            for bucket in (self.bucket, self.mast_bucket):
                if bucket is not None:
                    await asyncio.to_thread(self._remove_bucket, bucket)
        finally:
            await asyncio.to_thread(self._moto.stop)

    def _remove_bucket(self, bucket: str) -> None:
        # Every object, not only the archive's: tests add their own.
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for page in pages:  # a page holds at most 1000 keys, as DeleteObjects takes
            batch = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if batch:
                self._client.delete_objects(Bucket=bucket, Delete={"Objects": batch})
        self._client.delete_bucket(Bucket=bucket)


async def start_s3_sim(
    config: SimConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    bucket: str = DEFAULT_BUCKET,
    proxy: bool = True,
    mast_bucket: str | None = None,
) -> RunningS3Sim:
    """Serve the archive ``config`` describes as an S3 bucket on loopback.

    Parameters
    ----------
    config : SimConfig
        Archive, cache directory and initial faults (those the proxy honours).
    host : str, optional
        Address of moto and of the proxy.
    port : int, optional
        Port of the endpoint; 0 picks a free one. Behind the proxy, moto takes a free port.
    bucket : str, optional
        Bucket name.
    proxy : bool, optional
        Put the fault proxy in front (default); without it, faults cannot be set.
    mast_bucket : str, optional
        Also upload the simulated MAST's cloud products (``config.mast``) to this
        bucket under their keys (MAST's is :data:`skyhaul.sim.mast.spec.MAST_BUCKET`).

    Returns
    -------
    RunningS3Sim
        The running simulator; ``await sim.close()`` stops it.

    Raises
    ------
    skyhaul.errors.ConfigError
        If moto is missing, a bucket already exists in this process, or a fault knob
        is one the proxy cannot honour.
    """
    server = require_moto()
    archive = build_archive(config.archive)
    cache = ArchiveCache(config.cache_root, archive)
    initial = await asyncio.to_thread(cache.materialise)
    # werkzeug logs every request to stderr unless its logger is told otherwise.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if not proxy and port:
        _check_free(host, port)
    moto = server.ThreadedMotoServer(ip_address=host, port=0 if proxy else port, verbose=False)
    await asyncio.to_thread(moto.start)
    try:
        client = await asyncio.to_thread(_client, _endpoint(moto))
        await asyncio.to_thread(_create_bucket, client, bucket)
    except BaseException:
        await asyncio.to_thread(moto.stop)
        raise
    sim = RunningS3Sim(moto, client, FileStore(cache, initial), bucket)
    try:  # from here on, closing also removes the bucket from moto's process-wide state
        if proxy:
            sim.proxy = await start_proxy(sim.moto_endpoint, config.faults, host, port)
        await sim.upload([initial[f.path] for f in archive.files])
        if mast_bucket is not None:
            files = await asyncio.to_thread(cloud_files, config.mast, config.cache_root)
            await sim.upload_mast(mast_bucket, files)
    except BaseException:
        await sim.close()
        raise
    return sim


def _check_free(host: str, port: int) -> None:
    """Raise ``OSError`` if ``host:port`` is taken.

    moto binds in its server thread, and its ``start()`` waits for that thread without a
    deadline: a taken port would hang it, so it is tried here first.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug binds
        try:
            probe.bind((host, port))
        except OSError as exc:  # worded as asyncio words it for the HTTP side
            reason = (exc.strerror or str(exc)).lower()
            raise OSError(exc.errno, f"cannot listen on {host}:{port}: {reason}") from None


def _endpoint(moto: Any) -> str:
    host, port = moto.get_host_and_port()
    return http_origin(host, port)


def _client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=SIM_REGION,
        aws_access_key_id=SIM_CREDENTIALS[0],
        aws_secret_access_key=SIM_CREDENTIALS[1],
        config=Config(
            s3={"addressing_style": "path"},
            # No streamed checksum trailers: one plain PUT, as S3 clients have long sent.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 1},
        ),
    )


def _create_bucket(client: Any, bucket: str) -> None:
    from botocore.exceptions import ClientError

    try:
        client.create_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ConfigError(f"cannot create S3 simulator bucket {bucket!r}: {code}") from None
