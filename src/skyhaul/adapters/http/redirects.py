"""The one redirect policy of skyhaul's HTTP client: where a 3xx answer may lead.

Rules:
- 301, 302, 303, 307 and 308 are followed, at most ``max_redirects`` of them for one
  request; the next one is a ``ClientError`` "too many redirects".
- Any other 3xx, or a redirect without a ``Location``, is a ``ClientError``: the body of a
  3xx is never taken for the file or the page.
- ``Location`` is resolved against the URL that answered. The target must be http(s) with
  a host, and https never leads to http (the request, and whatever it carries, would
  then travel in clear).
- Only GET and HEAD are sent, and no redirect changes either (a 303 turns other methods
  into GET), so a hop repeats the request at the new URL.
- Credentials are not decided here: the client asks
  :class:`skyhaul.adapters.http.origins.CredentialRule` again for every hop.
- Pure: no I/O. Messages carry redacted URLs only.
"""

from __future__ import annotations

from dataclasses import dataclass

from yarl import URL

from skyhaul.core.redact import redact_url
from skyhaul.errors import ClientError

__all__ = ["REDIRECT_STATUSES", "RedirectPolicy"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True, slots=True)
class RedirectPolicy:
    """Which redirects a request follows.

    Parameters
    ----------
    max_redirects : int
        Redirects followed for one request at most (0: none is followed).
    """

    max_redirects: int = 10

    def next_url(
        self, current: URL, status: int, location: str | None, *, followed: int, requested: str
    ) -> URL:
        """Return the URL to ask next after ``current`` answered ``status`` (a 3xx).

        Parameters
        ----------
        current : yarl.URL
            The URL that answered.
        status : int
            Its status, 300 to 399.
        location : str or None
            Its ``Location`` header.
        followed : int
            Redirects already followed for this request.
        requested : str
            The URL first asked for (named in messages, redacted).

        Raises
        ------
        ClientError
            The answer is not a redirect to follow, or the redirect is refused.
        """
        if status not in REDIRECT_STATUSES:
            raise ClientError(f"HTTP {status} from {redact_url(str(current))}", status=status)
        if followed >= self.max_redirects:
            limit = self.max_redirects
            raise ClientError(
                f"too many redirects from {redact_url(requested)} (limit {limit})", status=status
            )
        if not location:
            raise ClientError(
                f"HTTP {status} without a Location from {redact_url(str(current))}", status=status
            )
        try:
            target = current.join(URL(location))
            valid = target.scheme in _SCHEMES and bool(target.host)
        except ValueError:
            valid = False
        if not valid:
            raise ClientError(
                f"redirect from {redact_url(str(current))} to an unusable location "
                f"{redact_url(location)!r}",
                status=status,
            )
        if current.scheme == "https" and target.scheme == "http":
            raise ClientError(
                f"redirect from https to http refused: {redact_url(str(current))} -> "
                f"{redact_url(str(target))}",
                status=status,
            )
        return target
