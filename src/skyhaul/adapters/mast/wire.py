"""MAST over HTTP: one bounded, retried request and its JSON answer; the errors it can end in.

Rules:
- Requests go through skyhaul's :class:`~skyhaul.adapters.http.HttpClient` (its session,
  TLS, User-Agent, timeouts, redirect policy): GETs as they are; POSTs of a form (what
  ``/api/v0/invoke`` takes) on the same session, read as ``HttpClient.read`` reads (the
  answer kept in memory up to ``max_answer`` bytes). A POST is not redirected (MAST does
  not; a redirect would be a wrong URL): a 3xx is an error naming the URL.
- Throttling, 5xx, timeouts and network errors are retried as a ``core.retry.RetryPolicy``
  decides (the listing pages' policy: backoff from 0.5 s capped at 30 s, full jitter,
  ``Retry-After`` a floor), ``attempts`` tries at most; a wait longer than ``max_wait`` is
  not slept. The caller's ``sleep`` and ``rand`` are used, so tests never wait.
- Every failure leaves this module as a :class:`~skyhaul.errors.SourceError` (exit 1:
  the archive, not the user, is at fault), in one line naming what was asked (``MAST
  Mast.Caom.Filtered``) and why: the HTTP status, the network error, an answer that is
  not JSON or not a JSON object. URLs in messages are redacted.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from urllib.parse import quote, urlencode

from skyhaul.adapters.http import MAX_ANSWER, HttpClient, HttpSettings, map_client_errors
from skyhaul.adapters.http.errors import raise_for_status
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.ratecontrol import MAX_PAUSE_SECONDS
from skyhaul.core.redact import redact_url
from skyhaul.core.retry import RetryPolicy, wait_too_long
from skyhaul.core.units import format_size
from skyhaul.errors import ClientError, SourceError, TransferError

__all__ = ["FormHttpClient", "MastWire", "Sleep"]

Sleep = Callable[[float], Awaitable[None]]
Form = Sequence[tuple[str, str]]

_BASE_DELAY = 0.5
_MAX_DELAY = 30.0
_RETRY_AFTER = frozenset({ErrorClass.THROTTLED, ErrorClass.SERVER})
_FORM_HEADERS = {"Accept": "application/json, text/plain"}
_FORM_TYPE = "application/x-www-form-urlencoded"


class FormHttpClient(HttpClient):
    """The shared HTTP client, able to POST a form as well (MAST's invoke)."""

    async def post_form(self, url: str, form: Form) -> bytes:
        """POST ``form`` (``application/x-www-form-urlencoded``) and return the body.

        Raises
        ------
        TransferError
            The request failed, the answer is an error or a redirect, or it is larger
            than ``settings.max_answer`` (``ClientError``).
        """
        most = self.settings.max_answer
        with map_client_errors(url):
            session = self._ensure_session()
            granted = self.credentials.headers_for(url)
            # Encoded as astroquery encodes it (``%20``, not ``+``): any MAST decodes that.
            body = urlencode(list(form), quote_via=quote).encode()
            headers = {**_FORM_HEADERS, "Content-Type": _FORM_TYPE, **granted}
            async with session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                raise_for_status(response.status, response.headers, url)
                if response.status >= 300:
                    raise ClientError(
                        f"HTTP {response.status} redirect from {redact_url(url)} (not followed)",
                        status=response.status,
                    )
                announced = response.content_length
                if announced is not None and announced > most:
                    raise _too_large(url, most)
                answer = bytearray()
                async for chunk in response.content.iter_any():
                    answer += chunk
                    if len(answer) > most:
                        raise _too_large(url, most)
                return bytes(answer)


class MastWire:
    """Requests to MAST with retries; JSON answers.

    Parameters
    ----------
    timeout : float
        Seconds to connect, between reads, and for one whole request.
    attempts : int
        Tries per request (at least one).
    verify_tls : bool
        Verify certificates.
    max_answer : int
        Bytes of one answer kept in memory at most.
    max_wait : float
        Seconds one retry may wait at most.
    sleep, rand
        Injected for tests.
    """

    def __init__(
        self,
        *,
        timeout: float = 300.0,
        attempts: int = 4,
        verify_tls: bool = True,
        max_answer: int = MAX_ANSWER,
        max_wait: float = MAX_PAUSE_SECONDS,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._http = FormHttpClient(
            HttpSettings(
                max_connections=8,
                connect_timeout=min(timeout, 30.0),
                read_timeout=timeout,
                total_timeout=timeout,
                verify_tls=verify_tls,
                byte_exact=False,
                max_answer=max_answer,
            )
        )
        self._policy = RetryPolicy(
            max_attempts=max(1, attempts),
            base_delay=_BASE_DELAY,
            max_delay=_MAX_DELAY,
            retry_after_classes=_RETRY_AFTER,
            first_retry=_BASE_DELAY,
        )
        self._max_wait = max_wait
        self._sleep = sleep
        self._rand = rand
        self.requests = 0
        """Requests sent (tests read it)."""

    async def post_json(self, url: str, form: Form, what: str) -> Mapping[str, object]:
        """POST ``form`` to ``url``; return the answer, a JSON object.

        Raises
        ------
        SourceError
            Naming ``what``: the request failed (after its retries) or the answer is not
            a JSON object.
        """
        body = await self._retried(lambda: self._http.post_form(url, form), what)
        return _json_object(body, what)

    async def get_json(self, url: str, what: str) -> Mapping[str, object]:
        """GET ``url``; return the answer, a JSON object (errors as :meth:`post_json`)."""
        body = await self._retried(lambda: self._http.read(url, _FORM_HEADERS), what)
        return _json_object(body, what)

    async def _retried(self, send: Callable[[], Awaitable[bytes]], what: str) -> bytes:
        tries = 0
        while True:
            self.requests += 1
            try:
                return await send()
            except ClientError as exc:
                raise SourceError(f"MAST {what}: {exc.message}") from None
            except TransferError as exc:
                tries += 1
                decision = self._policy.decide(
                    exc.error_class, tries, retry_after=exc.retry_after, random=self._rand
                )
                if not decision.retry:
                    raise SourceError(f"MAST {what}: {exc.message} (after {tries} tries)") from None
                if not decision.within(self._max_wait):
                    why = wait_too_long(decision.delay, self._max_wait)
                    raise SourceError(f"MAST {what}: {exc.message} ({why})") from None
                await self._sleep(decision.delay)

    async def aclose(self) -> None:
        """Close the session (a new one opens on demand)."""
        await self._http.close()


def _json_object(body: bytes, what: str) -> Mapping[str, object]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise SourceError(f"MAST {what}: the answer is not JSON ({reason})") from None
    if not isinstance(document, dict):
        raise SourceError(f"MAST {what}: the answer is not a JSON object")
    return document


def _too_large(url: str, most: int) -> ClientError:
    return ClientError(f"the answer from {redact_url(url)} is larger than {format_size(most)}")
