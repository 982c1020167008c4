"""The S3 simulator in a background thread, for synchronous callers such as tests.

Rules:
- ``with S3SimThread(config) as s3:`` returns once moto serves the bucket and the fault
  proxy listens (or raises what made it fail); leaving the block empties and deletes the
  bucket, stops moto and joins the thread (see :class:`skyhaul.sim.thread.ServerThread`).
- Calls that touch the simulator's state run on its loop; reading :attr:`S3SimThread.stats`
  is safe from any thread.
"""

from __future__ import annotations

from skyhaul.sim.config import SimConfig
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.mast.cloud import MastS3Object
from skyhaul.sim.s3 import DEFAULT_BUCKET, RunningS3Sim, S3Object, start_s3_sim
from skyhaul.sim.stats import SimStats
from skyhaul.sim.thread import ServerThread


class S3SimThread(ServerThread[RunningS3Sim]):
    """Run the S3 simulator in a background thread (see :class:`skyhaul.sim.SimThread`).

    Parameters
    ----------
    config : SimConfig
        What to serve.
    host : str, optional
        Address to listen on.
    port : int, optional
        Port of the endpoint; 0 picks a free one.
    bucket : str, optional
        Bucket name (one per simulator in a process).
    start_timeout : float, optional
        Seconds to wait for the archive, moto, the uploads and the proxy.
    mast_bucket : str, optional
        Also upload MAST's cloud products to this bucket (see :func:`start_s3_sim`).
    """

    def __init__(
        self,
        config: SimConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        bucket: str = DEFAULT_BUCKET,
        start_timeout: float = 300.0,
        mast_bucket: str | None = None,
    ) -> None:
        super().__init__("skyhaul-s3-sim", start_timeout)
        self._config = config
        self._host = host
        self._port = port
        self._bucket = bucket
        self._mast_bucket = mast_bucket

    async def _start_server(self) -> RunningS3Sim:
        return await start_s3_sim(
            self._config, self._host, self._port, self._bucket, mast_bucket=self._mast_bucket
        )

    @property
    def endpoint(self) -> str:
        """The endpoint (the fault proxy), ``http://HOST:PORT``."""
        return self.server.endpoint

    @property
    def moto_endpoint(self) -> str:
        """moto's own endpoint, without faults."""
        return self.server.moto_endpoint

    @property
    def bucket(self) -> str:
        """The bucket holding the archive."""
        return self.server.bucket

    @property
    def stats(self) -> SimStats:
        """Counters of the requests through the proxy (safe to read from any thread)."""
        return self.server.stats

    @property
    def faults(self) -> FaultConfig:
        """The fault knobs in force."""
        return self.server.faults

    def objects(self) -> list[S3Object]:
        """Every object as now uploaded, read on the server's loop."""
        return self._on_loop(self.server.objects)

    @property
    def mast_bucket(self) -> str | None:
        """The bucket holding MAST's cloud products, if uploaded."""
        return self.server.mast_bucket

    def mast_objects(self) -> list[MastS3Object]:
        """MAST's cloud products as uploaded; see :meth:`RunningS3Sim.mast_objects`."""
        return self._on_loop(self.server.mast_objects)

    def url_for(self, key: str) -> str:
        """``s3://BUCKET/KEY``."""
        return self.server.url_for(key)

    def set_faults(self, faults: FaultConfig | None = None, /, **changes: object) -> FaultConfig:
        """Put new fault knobs in force; see :meth:`RunningS3Sim.set_faults`."""
        return self._on_loop(lambda: self.server.set_faults(faults, **changes))

    def change_object(self, key: str) -> S3Object:
        """Give an object new content now; see :meth:`RunningS3Sim.change_object`."""
        return self.call(self.server.change_object(key))
