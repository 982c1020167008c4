"""Fetching listing pages (HTML indexes, JSON APIs) for sources: the HTTP seam of discovery.

Rules:
- Requests go through the shared :class:`skyhaul.adapters.http.HttpClient`: its session,
  timeouts, redirect policy and credential rule. The source's credentials go to the
  source's own origin and to no other, redirect hops included.
- A 404 is an answer, not an error: ``get_text`` returns None (a day directory that does
  not exist yet). 401 and 403 are a ``SourceAuthError``; other 4xx a ``SourceError``.
- Throttling, 5xx and network errors are retried as a ``core.retry.RetryPolicy`` decides
  (exponential backoff from 0.5 s, capped at 30 s, full jitter, ``Retry-After`` a floor)
  up to ``attempts`` tries, then a ``SourceError``. This client sleeps; the policy decides.
  A wait longer than ``max_wait`` (a server's ``Retry-After: 99999999``) is not slept:
  the listing fails at once and says why.
- A page is read into memory up to ``max_answer_size`` bytes; a larger one (an endless
  listing) fails the listing at once.
- At most ``concurrency`` requests are in flight: listing must stay polite too.
- Messages carry redacted URLs only.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from skyhaul.adapters.http import MAX_ANSWER, CredentialRule, HttpClient, HttpSettings
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.ratecontrol import MAX_PAUSE_SECONDS
from skyhaul.core.redact import redact_url
from skyhaul.core.retry import RetryPolicy, wait_too_long
from skyhaul.errors import ClientError, SourceAuthError, SourceError, TransferError

__all__ = ["PageClient", "refused_credentials"]

Sleep = Callable[[float], Awaitable[None]]

# Pages are few and wanted now: short waits, and a server's Retry-After on a 5xx counts too.
_BASE_DELAY = 0.5
_MAX_DELAY = 30.0
_RETRY_AFTER = frozenset({ErrorClass.THROTTLED, ErrorClass.SERVER})


def refused_credentials(source: str, status: int, url: str) -> SourceAuthError:
    """The error of a 401 or 403 from a source's server (the URL redacted)."""
    return SourceAuthError(
        f"source {source}: HTTP {status} from {redact_url(url)}; check the source's credentials"
    )


class PageClient:
    """Reads listing pages of one source.

    Parameters
    ----------
    source : str
        The source's name, for messages.
    headers : Mapping of str to str
        Credential headers, sent to ``origin`` only.
    origin : str or None
        ``scheme://host[:port]`` the credentials belong to (None: no credentials sent).
    verify_tls : bool
        Verify certificates.
    timeout : float
        Seconds for one request (to connect, between reads, and in all).
    attempts : int
        Tries per page before giving up (at least one).
    concurrency : int
        Requests in flight at most.
    max_answer_size : int
        Bytes of one page read into memory at most.
    max_wait : float
        Seconds a retry may wait at most; a server asking for longer fails the page.
    sleep, rand
        Injected for tests.
    """

    def __init__(
        self,
        source: str,
        *,
        headers: Mapping[str, str] | None = None,
        origin: str | None = None,
        verify_tls: bool = True,
        timeout: float = 60.0,
        attempts: int = 4,
        concurrency: int = 4,
        max_answer_size: int = MAX_ANSWER,
        max_wait: float = MAX_PAUSE_SECONDS,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.source = source
        grants = [(origin, headers)] if origin is not None and headers else []
        self._http = HttpClient(
            HttpSettings(
                max_connections=16,
                connect_timeout=timeout,
                read_timeout=timeout,
                total_timeout=timeout,
                verify_tls=verify_tls,
                byte_exact=False,
                max_answer=max_answer_size,
            ),
            CredentialRule(grants),
        )
        self._max_wait = max_wait
        self._policy = RetryPolicy(
            max_attempts=max(1, attempts),
            base_delay=_BASE_DELAY,
            max_delay=_MAX_DELAY,
            retry_after_classes=_RETRY_AFTER,
            # A page is one request of a listing that waits for it: no early first retry.
            first_retry=_BASE_DELAY,
        )
        self._gate = asyncio.Semaphore(max(1, concurrency))
        self._sleep = sleep
        self._rand = rand
        self.requests = 0
        """Requests made (tests and benchmarks read it)."""

    async def get_text(self, url: str) -> str | None:
        """Return the page at ``url`` as text, or None when the server says 404 / 410."""
        body = await self._get(url)
        return None if body is None else body.decode("utf-8", errors="replace")

    async def get_json(self, url: str) -> Any:
        """Return the JSON document at ``url``; a 404 or a page that is not JSON is an error."""
        body = await self._get(url)
        if body is None:
            raise SourceError(f"source {self.source}: {redact_url(url)} not found (404)")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise SourceError(
                f"source {self.source}: {redact_url(url)} is not JSON ({exc})"
            ) from None
        except RecursionError:  # the decoder recurses once per level of nesting
            raise SourceError(
                f"source {self.source}: {redact_url(url)} is not JSON (nested too deeply)"
            ) from None

    async def _get(self, url: str) -> bytes | None:
        tries = 0
        while True:
            try:
                async with self._gate:
                    return await self._fetch(url)
            except ClientError as exc:
                if exc.status in (404, 410):
                    return None
                if exc.status in (401, 403):
                    raise refused_credentials(self.source, exc.status, url) from None
                raise SourceError(f"source {self.source}: {exc.message}") from None
            except TransferError as exc:
                tries += 1
                decision = self._policy.decide(
                    exc.error_class, tries, retry_after=exc.retry_after, random=self._rand
                )
                if not decision.retry:
                    raise SourceError(
                        f"source {self.source}: {exc.message} (after {tries} tries)"
                    ) from None
                if not decision.within(self._max_wait):
                    raise SourceError(
                        f"source {self.source}: {exc.message}"
                        f" ({wait_too_long(decision.delay, self._max_wait)})"
                    ) from None
                await self._sleep(decision.delay)

    async def _fetch(self, url: str) -> bytes:
        self.requests += 1
        return await self._http.read(url)

    async def aclose(self) -> None:
        """Close the session (a new one opens on demand)."""
        await self._http.close()
