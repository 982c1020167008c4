"""Origins, and the one rule for which requests carry credentials.

Rules:
- An origin is ``scheme://host[:port]``: scheme and host in lower case (host IDNA-encoded),
  the port left out when it is the scheme's default (``HTTP://Host:80`` is
  ``http://host``); userinfo, path, query and fragment are not part of it. URLs are read
  by yarl, the parser aiohttp connects with, so the origin checked is the one the request
  goes to. A URL without a host has the origin ``""``, which holds no credentials.
- A credential header belongs to a set of origins. It is sent with a request only if the
  request's origin is in that set: on the first request and on every redirect hop alike.
  :class:`skyhaul.adapters.http.client.HttpClient` asks this rule for every hop and sends
  nothing else that carries credentials.
- Cost: no credentials, no work. Otherwise a URL's raw ``scheme://authority`` prefix is
  found with two ``str.find`` and looked up in a cache: yarl parses only a prefix not seen
  before (as :class:`skyhaul.services.hostgate.GateRegistry` finds a host's gate).
- Credential values never appear in ``repr``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from yarl import URL

__all__ = ["CredentialRule", "origin_of"]

NO_HEADERS: Mapping[str, str] = MappingProxyType({})
# Distinct raw prefixes remembered; past it, lookups still work, they just parse.
_PREFIX_CACHE_LIMIT = 1024
# A prefix holding one of these may not end where yarl ends the authority: never cached.
_UNCACHEABLE = ("?", "#", "\\")


def origin_of(url: str | URL) -> str:
    """Return the normalised origin of ``url`` (``""`` when it has no host)."""
    try:
        parsed = url if isinstance(url, URL) else URL(url)
        return str(parsed.origin()) if parsed.absolute else ""
    except ValueError:
        return ""


class CredentialRule:
    """Which credential headers go with a request, decided by the request's origin.

    Parameters
    ----------
    grants : iterable of (origin, headers)
        Each origin (any spelling: ``HTTPS://Archive.example:443/`` is normalised) with
        the headers that belong to it. Origins named twice get both sets of headers.
    """

    __slots__ = ("_by_origin", "_by_prefix")

    def __init__(self, grants: Iterable[tuple[str, Mapping[str, str]]] = ()) -> None:
        by_origin: dict[str, dict[str, str]] = {}
        for origin, headers in grants:
            normalised = origin_of(origin)
            if headers and normalised:
                by_origin.setdefault(normalised, {}).update(headers)
        self._by_origin: dict[str, Mapping[str, str]] = {
            origin: MappingProxyType(headers) for origin, headers in by_origin.items()
        }
        self._by_prefix: dict[str, Mapping[str, str]] = {}

    @classmethod
    def authorization(cls, pairs: Iterable[tuple[str, str]]) -> CredentialRule:
        """The rule of ``(origin, Authorization value)`` pairs."""
        return cls((origin, {"Authorization": value}) for origin, value in pairs)

    def headers_for(self, url: str) -> Mapping[str, str]:
        """Return the credential headers a request to ``url`` carries (often none)."""
        if not self._by_origin:
            return NO_HEADERS
        start = url.find("//")
        slash = url.find("/", start + 2) if start >= 0 else -1
        if slash < 0:
            return self._by_origin.get(origin_of(url), NO_HEADERS)
        prefix = url[:slash]
        found = self._by_prefix.get(prefix)
        if found is None:
            found = self._by_origin.get(origin_of(url), NO_HEADERS)
            if len(self._by_prefix) < _PREFIX_CACHE_LIMIT and not any(
                mark in prefix for mark in _UNCACHEABLE
            ):
                self._by_prefix[prefix] = found
        return found

    def __repr__(self) -> str:
        return f"CredentialRule(origins={sorted(self._by_origin)})"
