"""A fault proxy in front of moto: the simulator's faults on its S3 side (moto has none).

Rules:
- Every request goes to moto as it came (method, path and query byte for byte, headers
  with ``Host``, body), and moto's answer comes back as it left, unless a fault strikes:
  S3's semantics (signatures, policies, ranges, ``If-Match``) stay moto's.
- Faults are decided by the simulator's :class:`skyhaul.sim.decisions.FaultEngine`, keyed
  by object key, in its order: latency; fail path, rate limit, random 503; then, for a
  GET body, the body plan (cut after ``drop_after`` bytes with probability ``p_drop``,
  flipped bytes, bandwidth), carried out by :func:`skyhaul.sim.bodies.send_planned`.
- Refusals are S3 error documents. The rate limit and the random 503 both answer
  ``503 SlowDown``: S3 throttles with 503, never 429.
- Knobs only a file server can honour (``ignore_range``, ``change_every``, ``p_change``,
  ``no_digest``, ``faults_on_api``, the records API's) are refused with a ConfigError, so
  no test believes they apply here.
- Requests, statuses, body bytes, drops, corruptions and the most requests answered at
  once are counted in a ``SimStats``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from urllib.parse import unquote
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web

from skyhaul.errors import ConfigError
from skyhaul.sim.bodies import send_planned
from skyhaul.sim.decisions import BodyPlan, FaultEngine, Refusal
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.server import listen
from skyhaul.sim.stats import SimStats

#: Knobs the proxy cannot honour (they need the file server's own state).
UNSUPPORTED_KNOBS = (
    "ignore_range",
    "change_every",
    "p_change",
    "no_digest",
    "faults_on_api",
    "records",
)
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",  # the proxy has read the body already
        "content-length",  # set again from the body actually sent
    }
)
_S3_CODES = {400: "InvalidRequest", 403: "AccessDenied", 404: "NoSuchKey", 500: "InternalError"}
_UPLOAD_LIMIT = 1 << 30


def proxy_faults(faults: FaultConfig) -> FaultConfig:
    """Return ``faults`` with the knobs the proxy cannot honour switched off."""
    default = FaultConfig()
    return dataclasses.replace(
        faults, **{name: getattr(default, name) for name in UNSUPPORTED_KNOBS}
    )


def needs_proxy(faults: FaultConfig) -> bool:
    """Whether any knob the proxy honours is set (else moto alone serves the same)."""
    return proxy_faults(faults) != FaultConfig(seed=faults.seed)


def check_proxy_faults(faults: FaultConfig) -> FaultConfig:
    """Return ``faults`` if the proxy can honour every knob set in it.

    Raises
    ------
    skyhaul.errors.ConfigError
        Naming the first knob set that only the HTTP simulator honours.
    """
    default = FaultConfig()
    for name in UNSUPPORTED_KNOBS:
        if getattr(faults, name) != getattr(default, name):
            raise ConfigError(f"fault knob {name} is not supported by the S3 simulator")
    return faults


@dataclass
class ProxyState:
    """What the proxy's handler shares: the upstream, the fault engine, the counters."""

    upstream: str
    session: aiohttp.ClientSession
    engine: FaultEngine
    stats: SimStats

    def configure(self, faults: FaultConfig) -> None:
        """Put new fault knobs in force (refused if the proxy cannot honour one)."""
        self.engine.configure(check_proxy_faults(faults), asyncio.get_running_loop().time())


PROXY_STATE = web.AppKey("skyhaul_s3_proxy", ProxyState)


class RunningProxy:
    """A fault proxy serving on a socket; :func:`start_proxy` makes one.

    Attributes
    ----------
    endpoint : str
        ``http://HOST:PORT``, without a trailing slash (as S3 endpoints are written).
    state : ProxyState
        Fault engine and counters (touch on the proxy's event loop).
    """

    def __init__(self, runner: web.AppRunner, state: ProxyState, endpoint: str) -> None:
        self._runner = runner
        self.state = state
        self.endpoint = endpoint

    @property
    def faults(self) -> FaultConfig:
        """The fault knobs in force."""
        return self.state.engine.config

    def set_faults(self, faults: FaultConfig | None = None, /, **changes: object) -> FaultConfig:
        """Put new fault knobs in force (call on the proxy's event loop).

        Parameters
        ----------
        faults : FaultConfig, optional
            The whole new configuration; without it, ``changes`` apply to the current one.
        **changes : object
            Knobs to change, parsed as :meth:`FaultConfig.from_mapping` does.

        Returns
        -------
        FaultConfig
            The configuration now in force.

        Raises
        ------
        skyhaul.errors.ConfigError
            For a bad value, or a knob the proxy cannot honour.
        """
        new = FaultConfig.from_mapping(changes, base=faults if faults is not None else self.faults)
        self.state.configure(new)
        return new

    async def close(self) -> None:
        """Stop serving, then close the connections to moto."""
        await self._runner.cleanup()
        await self.state.session.close()


async def start_proxy(
    upstream: str, faults: FaultConfig, host: str = "127.0.0.1", port: int = 0
) -> RunningProxy:
    """Serve a fault proxy for the S3 service at ``upstream``.

    Parameters
    ----------
    upstream : str
        moto's endpoint, ``http://HOST:PORT``.
    faults : FaultConfig
        Fault knobs in force at start.
    host, port : str, int
        Where to listen; port 0 picks a free one.

    Returns
    -------
    RunningProxy
        The running proxy; ``await proxy.close()`` stops it.
    """
    loop = asyncio.get_running_loop()
    engine = FaultEngine(check_proxy_faults(faults), loop.time())
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        auto_decompress=False,
        timeout=aiohttp.ClientTimeout(total=None),
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
    )
    state = ProxyState(upstream.rstrip("/"), session, engine, SimStats())
    app = web.Application(client_max_size=_UPLOAD_LIMIT)
    app[PROXY_STATE] = state
    app.router.add_route("*", "/{tail:.*}", _forward)
    try:
        runner, origin = await listen(app, host, port)
    except BaseException:
        await session.close()
        raise
    return RunningProxy(runner, state, origin)


async def _forward(request: web.Request) -> web.StreamResponse:
    stats = request.app[PROXY_STATE].stats
    stats.record_open(1)
    try:
        return await _answer(request)  # the whole answer is sent before it returns
    finally:
        stats.record_open(-1)


async def _answer(request: web.Request) -> web.StreamResponse:
    state = request.app[PROXY_STATE]
    stats = state.stats
    stats.record_request(request.method, "Range" in request.headers)
    key = _object_key(request.path)
    config = state.engine.config
    if config.latency > 0:
        await asyncio.sleep(config.latency)
    refusal = state.engine.refusal(key, asyncio.get_running_loop().time()) if key else None
    if refusal is not None:
        answer = _s3_error(refusal, request)
        stats.record_status(answer.status)
        return answer
    body = await request.read()
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
    async with state.session.request(
        request.method,
        state.upstream + request.raw_path,
        headers=headers,
        data=body if body else None,
        allow_redirects=False,
    ) as upstream:
        stats.record_status(upstream.status)
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in upstream.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                response.headers.add(name, value)
        length = upstream.content_length
        if request.method == "HEAD" or length is None:
            return await _send_whole(request, response, upstream, length)
        plan = BodyPlan()
        if request.method == "GET" and key and upstream.status in (200, 206):
            plan = state.engine.body_plan(length)
            if plan.drop_after is not None:
                stats.record_event("dropped")
            if plan.corrupt_at and plan.corrupt_at[0] < (plan.drop_after or length):
                stats.record_event("corrupted")

        def on_sent(nbytes: int) -> None:
            stats.record_bytes(key, nbytes)

        return await send_planned(request, response, upstream.content.read, length, plan, on_sent)


async def _send_whole(
    request: web.Request,
    response: web.StreamResponse,
    upstream: aiohttp.ClientResponse,
    length: int | None,
) -> web.StreamResponse:
    """A HEAD answer (its Content-Length kept, no body), or a body of unknown length."""
    if request.method == "HEAD":
        if length is not None:
            response.content_length = length
        await response.prepare(request)
        await response.write_eof()
        return response
    body = await upstream.read()
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body)
    await response.write_eof()
    return response


def _object_key(path: str) -> str:
    """The object key of a path-style request (``/BUCKET/KEY``); empty for a bucket."""
    _, _, key = path.lstrip("/").partition("/")
    return unquote(key)


def _s3_error(refusal: Refusal, request: web.Request) -> web.Response:
    status = refusal.status
    if refusal.status == 429 or refusal.reason == "unavailable":
        status, code, message = 503, "SlowDown", "Please reduce your request rate."
    else:
        code = _S3_CODES.get(status, "SimulatedFailure")
        message = f"Simulated failure ({refusal.reason})."
    headers = dict(refusal.headers)
    if request.method == "HEAD":  # S3 sends no error document with a HEAD answer
        return web.Response(status=status, headers=headers)
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(request.path)}</Resource></Error>"
    )
    return web.Response(
        status=status, text=document, content_type="application/xml", headers=headers
    )
