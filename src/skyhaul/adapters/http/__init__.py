"""HTTP for every skyhaul request: the only package that talks to aiohttp as a client.

Rules:
- :mod:`.client`: one :class:`HttpClient` (session, TLS, User-Agent, timeouts), used by
  the file transport, the listing pages and the records API alike.
- :mod:`.redirects`: the one redirect policy; :mod:`.origins`: the one rule for which
  origins receive credentials, asked on every hop.
- :mod:`.errors`: statuses and aiohttp failures become skyhaul errors in one place.
- :mod:`.transport`: the engine's file ``Transport`` on that client.
- Backoff is not here: callers retry under ``skyhaul.core.retry.RetryPolicy``.
"""

from __future__ import annotations

from skyhaul.adapters.http.client import (
    MAX_ANSWER,
    READ_BUFFER,
    USER_AGENT,
    HttpClient,
    HttpSettings,
)
from skyhaul.adapters.http.errors import (
    LONGEST_RETRY_AFTER,
    RETRYABLE_CLIENT_STATUSES,
    map_client_errors,
    parse_retry_after,
    raise_for_status,
)
from skyhaul.adapters.http.origins import CredentialRule, origin_of
from skyhaul.adapters.http.redirects import REDIRECT_STATUSES, RedirectPolicy
from skyhaul.adapters.http.transport import HttpBody, HttpTransport, info_from_headers

__all__ = [
    "LONGEST_RETRY_AFTER",
    "MAX_ANSWER",
    "READ_BUFFER",
    "REDIRECT_STATUSES",
    "RETRYABLE_CLIENT_STATUSES",
    "USER_AGENT",
    "CredentialRule",
    "HttpBody",
    "HttpClient",
    "HttpSettings",
    "HttpTransport",
    "RedirectPolicy",
    "info_from_headers",
    "map_client_errors",
    "origin_of",
    "parse_retry_after",
    "raise_for_status",
]
