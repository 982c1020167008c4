"""Source type ``records-api``: a REST API that answers one time window of records per request.

Rules:
- Configured in ``skyhaul.toml``: ``url`` (the endpoint), ``query`` (a template with
  ``{start}``, ``{end}`` and any ``[params]`` key, e.g. ``?sensor={sensor}&obTime=
  {start}..{end}``), ``chunk`` (how a day is split: ``5m``, ``6h``), ``expected_per_day``
  (a number or a product such as ``"32 * 2 * 17280"``), ``time_field`` (the record's time,
  default ``obTime``), ``time_format`` (strftime of ``{start}``/``{end}``), ``format``
  (``csv``, ``json``, ``parquet``), ``concurrency`` (most requests in flight), ``attempts``
  (tries per chunk), ``timeout``, ``max_answer_size`` (bytes of one answer read into
  memory; a larger one fails its day), ``max_wait`` (the longest a throttled chunk waits
  and the host pauses: a longer ``Retry-After`` fails the day) and the credential keys of
  :mod:`skyhaul.adapters.credentials`. ``dest`` is where the day files go.
- Values put into the query are percent-encoded; the template's own text is not.
- Credentials go to the endpoint's origin only, redirect hops included; messages show
  redacted URLs only.
- :class:`RecordsClient` is the HTTP seam: one GET through the shared
  :class:`skyhaul.adapters.http.HttpClient` (its session, timeouts, redirect policy and
  credential rule), the body as bytes, statuses mapped to skyhaul's ``TransferError``
  classes (401/403 to ``SourceAuthError``). It never retries: the backfill's day fetch
  does, under the host's adaptive gate.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlsplit

from skyhaul.adapters.config import SourceConfig
from skyhaul.adapters.credentials import CREDENTIAL_KEYS, credentials_from_options
from skyhaul.adapters.http import MAX_ANSWER, HttpClient, HttpSettings
from skyhaul.adapters.pages import refused_credentials
from skyhaul.adapters.records_store import OUTPUT_FORMATS, OutputFormat
from skyhaul.adapters.sources.options import LIMIT_KEYS, OptionReader, answer_limits
from skyhaul.core.ratecontrol import MAX_PAUSE_SECONDS
from skyhaul.core.units import parse_duration
from skyhaul.errors import ClientError, ConfigError

__all__ = [
    "OUTPUT_FORMATS",
    "RECORDS_API",
    "OutputFormat",
    "RecordsApiSettings",
    "RecordsClient",
    "records_api_settings",
]

RECORDS_API = "records-api"
DEFAULT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_OPTIONS = (
    frozenset(
        {
            "url",
            "query",
            "params",
            "chunk",
            "expected_per_day",
            "time_field",
            "time_format",
            "format",
            "concurrency",
            "attempts",
            "timeout",
            "verify_tls",
        }
    )
    | (CREDENTIAL_KEYS - {"download_origins"})
    | LIMIT_KEYS
)
_ACCEPT = MappingProxyType({"Accept": "application/json"})
_FIELD = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)}")
_PRODUCT = re.compile(r"^\s*\d[\d_]*(\s*[*x×]\s*\d[\d_]*)*\s*$")


@dataclass(frozen=True, slots=True)
class RecordsApiSettings:
    """A ``records-api`` source, read from its ``[sources.<name>]`` table.

    Parameters
    ----------
    name : str
        The source's name.
    url : str
        The endpoint.
    query : str
        The query template (may be empty).
    params : Mapping of str to str
        Values of the template's other fields.
    chunk : timedelta
        Length of one request's window.
    expected_per_day : int or None
        Records a complete day holds (the base of availability %).
    time_field : str
        The record field holding its time.
    time_format : str
        strftime format of ``{start}`` and ``{end}``.
    output_format : str
        Format of the day files.
    concurrency : int
        Requests in flight at most (the adaptive controller's ceiling).
    attempts : int
        Tries per chunk before the day fails.
    timeout : float
        Seconds for one request.
    verify_tls : bool
        Verify certificates.
    authorization : str or None
        ``Authorization`` header value; never in ``repr``.
    max_answer_size : int
        Bytes of one answer read into memory at most.
    max_wait : float
        Seconds a throttled chunk waits at most (and the host's longest pause).
    """

    name: str
    url: str
    query: str
    params: Mapping[str, str]
    chunk: timedelta
    expected_per_day: int | None
    time_field: str = "obTime"
    time_format: str = DEFAULT_TIME_FORMAT
    output_format: OutputFormat = "csv"
    concurrency: int = 8
    attempts: int = 6
    timeout: float = 120.0
    verify_tls: bool = True
    authorization: str | None = field(default=None, repr=False)
    max_answer_size: int = MAX_ANSWER
    max_wait: float = MAX_PAUSE_SECONDS

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` of the endpoint."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    def chunk_url(self, start: datetime, end: datetime) -> str:
        """The URL that asks for the records of ``[start, end)``."""
        values = {key: quote(value, safe=":") for key, value in self.params.items()}
        values["start"] = quote(start.strftime(self.time_format), safe=":")
        values["end"] = quote(end.strftime(self.time_format), safe=":")
        return self.url + _FIELD.sub(lambda m: values[m.group(1)], self.query)


def records_api_settings(
    config: SourceConfig,
    *,
    verify_tls: bool = True,
    environ: Mapping[str, str] | None = None,
) -> RecordsApiSettings:
    """Read a ``records-api`` source's table.

    Raises
    ------
    ConfigError
        An unknown or invalid option, a template naming an unknown field, or credentials
        that cannot be read.
    """
    where = config.where
    reader = OptionReader(config.options, where)
    reader.reject_unknown(_OPTIONS)
    url = reader.required("url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{where}: 'url' must be an http(s) URL")
    query = reader.string("query", "") or ""
    params = {str(k): _param(where, k, v) for k, v in reader.table("params").items()}
    for name in _FIELD.findall(query):
        if name not in params and name not in ("start", "end"):
            raise ConfigError(
                f"{where}: 'query' names {{{name}}}, which is neither start, end nor a [params] key"
            )
    if "{start}" not in query or "{end}" not in query:
        raise ConfigError(f"{where}: 'query' must contain {{start}} and {{end}} (the window)")
    chunk_text = reader.string("chunk", "1h") or "1h"
    try:
        seconds = parse_duration(chunk_text)
    except ValueError as exc:
        raise ConfigError(f"{where}: 'chunk': {exc}") from None
    if not 1 <= seconds <= 86400 or 86400 % seconds:
        raise ConfigError(
            f"{where}: 'chunk' must divide a day evenly (e.g. 5m, 1h, 6h), got {chunk_text!r}"
        )
    output_format = reader.string("format", "csv") or "csv"
    if output_format not in OUTPUT_FORMATS:
        raise ConfigError(f"{where}: 'format' must be one of {', '.join(OUTPUT_FORMATS)}")
    time_format = reader.string("time_format", DEFAULT_TIME_FORMAT) or DEFAULT_TIME_FORMAT
    credentials = credentials_from_options(
        config.options, where=where, base_dir=config.base_dir, environ=environ
    )
    limits = answer_limits(reader)
    return RecordsApiSettings(
        name=config.name,
        url=url,
        query=query,
        params=params,
        chunk=timedelta(seconds=seconds),
        expected_per_day=_expected(where, config.options.get("expected_per_day")),
        time_field=reader.string("time_field", "obTime") or "obTime",
        time_format=time_format,
        output_format=output_format,
        concurrency=reader.integer("concurrency", 8, minimum=1),
        attempts=reader.integer("attempts", 6, minimum=1),
        timeout=reader.number("timeout", 120.0, minimum=1),
        verify_tls=verify_tls and reader.boolean("verify_tls", True),
        authorization=credentials.authorization,
        max_answer_size=limits.max_answer_size,
        max_wait=limits.max_wait,
    )


def _param(where: str, key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{where}: params.{key} must be a string or a number")
    return str(value)


def _expected(where: str, value: Any) -> int | None:
    """Read ``expected_per_day``: a positive integer, or a product of them as text."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and _PRODUCT.match(value):
        factors = [int(f.replace("_", "")) for f in re.split(r"[*x×]", value)]
        product: int = reduce(operator.mul, factors, 1)
        if product > 0:
            return product
    raise ConfigError(
        f"{where}: 'expected_per_day' must be a positive integer or a product such as "
        f'"32 * 2 * 17280", got {value!r}'
    )


class RecordsClient:
    """GET one window of records at a time from a records API.

    Parameters
    ----------
    settings : RecordsApiSettings
        The endpoint, credentials, timeout and TLS verification.
    """

    def __init__(self, settings: RecordsApiSettings) -> None:
        self.settings = settings
        value = settings.authorization
        self._http = HttpClient(
            HttpSettings(
                max_connections=max(4, settings.concurrency),
                connect_timeout=settings.timeout,
                read_timeout=settings.timeout,
                total_timeout=settings.timeout,
                verify_tls=settings.verify_tls,
                authorization=() if value is None else ((settings.origin, value),),
                byte_exact=False,
                max_answer=settings.max_answer_size,
            )
        )

    async def fetch(self, url: str) -> bytes:
        """Return the body of ``url``.

        Raises
        ------
        SourceAuthError
            401 or 403: the credentials are missing or refused.
        TransferError
            Any other failure, classified (throttled with its Retry-After, server,
            client, connection, timeout, refused redirect).
        """
        try:
            return await self._http.read(url, _ACCEPT)
        except ClientError as exc:
            if exc.status in (401, 403):
                raise refused_credentials(self.settings.name, exc.status, url) from None
            raise

    async def aclose(self) -> None:
        """Close the session (a new one opens on demand)."""
        await self._http.close()
