"""Who may into ``/api/records`` and when: its own rate limit, then its optional token.

Rules:
- Checks run in nginx's order: the rate limit (``records_rate``, ``records_burst``) first,
  then authentication (``records_token``); the first that fails decides the answer.
- The limiter is a :class:`skyhaul.sim.throttle.RequestLimiter` of its own, apart from
  the file routes' ``rate_limit``; a refused request takes no token. A 429 carries
  ``Retry-After``: the whole seconds until the next token, rounded up, at least 1.
- A token is accepted as ``Authorization: Bearer TOKEN`` or as HTTP Basic with password
  TOKEN (any user name), compared in constant time; otherwise 401 with
  ``WWW-Authenticate``. Nothing here logs or echoes a header.
- The current time is passed in; configuring anew refills the bucket.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math

from skyhaul.sim.decisions import Refusal
from skyhaul.sim.records_config import RecordsConfig
from skyhaul.sim.throttle import RequestLimiter

CHALLENGE = 'Bearer realm="skyhaul-sim", Basic realm="skyhaul-sim"'
_EPSILON = 1e-9


class RecordsGate:
    """Decide, request by request, whether ``/api/records`` answers or refuses.

    Parameters
    ----------
    config : RecordsConfig
        The knobs.
    now : float
        The current time in seconds (for the rate limiter).
    """

    def __init__(self, config: RecordsConfig, now: float) -> None:
        self.configure(config, now)

    @property
    def config(self) -> RecordsConfig:
        """The knobs in force."""
        return self._config

    def configure(self, config: RecordsConfig, now: float) -> None:
        """Put new knobs in force and refill the bucket."""
        self._config = config
        self._limiter = (
            RequestLimiter(config.rate, config.burst, now) if config.rate is not None else None
        )

    def refusal(self, authorization: str | None, now: float) -> Refusal | None:
        """Decide whether to refuse a request arriving at ``now``.

        Parameters
        ----------
        authorization : str or None
            The request's ``Authorization`` header.
        now : float
            Arrival time in seconds.

        Returns
        -------
        Refusal or None
            A 429 (with ``Retry-After``) or a 401 (with ``WWW-Authenticate``), or None to
            serve the request.
        """
        limiter = self._limiter
        if limiter is not None and not limiter.admit(now):
            seconds = max(1, math.ceil(limiter.wait() - _EPSILON))
            return Refusal(429, "rate-limited", {"Retry-After": str(seconds)})
        token = self._config.token
        if token is not None and not authorizes(authorization, token):
            return Refusal(401, "unauthorized", {"WWW-Authenticate": CHALLENGE})
        return None


def authorizes(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (Bearer, or Basic password).

    Parameters
    ----------
    authorization : str or None
        The header's value.
    token : str
        The expected token.

    Returns
    -------
    bool
        True if the header carries the token.
    """
    if not authorization:
        return False
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        credentials = decoded.partition(":")[2]
    elif scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.encode("utf-8"), token.encode("utf-8"))
