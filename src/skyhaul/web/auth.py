"""Who may use the web view, and protection of its state-changing requests.

Rules:
- With a token, every request but the login page and the static files needs it: as
  ``Authorization: Bearer TOKEN`` (scripts) or as the session cookie the login form sets
  (browsers). The cookie holds an HMAC of the token, never the token; it is HttpOnly and
  SameSite=Strict. Without a token (loopback only) nobody logs in.
- State-changing requests (POST, PUT, PATCH, DELETE) from a browser must carry the
  ``X-CSRF-Token`` header with the server's CSRF value (in each page's ``<meta>`` and at
  ``GET /api/session``). Another site can neither read that value nor send a custom
  header without a CORS preflight, which this server never grants. A request whose
  ``Origin`` is another site is refused outright. A bearer token is not sent by browsers
  on their own, so bearer requests need no CSRF header.
- Secrets are compared in constant time; a refusal says what is missing, never the token.
- A pure ASGI middleware, so that streamed answers (Server-Sent Events) pass untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote, urlsplit

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "Gate",
    "TokenGate",
    "session_value",
]

#: The cookie the login form sets.
SESSION_COOKIE = "skyhaul_session"
#: The header state-changing browser requests carry.
CSRF_HEADER = "x-csrf-token"

_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Paths anyone may fetch: the login form and the page's own files.
_OPEN_PATHS = frozenset({"/login"})
_OPEN_PREFIXES = ("/static/",)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def session_value(token: str) -> str:
    """What the session cookie of ``token`` holds (an HMAC: the cookie never is the token)."""
    return hmac.new(token.encode(), b"skyhaul-session", hashlib.sha256).hexdigest()


class Gate:
    """The server's secrets: its token (or None) and its CSRF value."""

    def __init__(self, token: str | None, *, csrf: str | None = None) -> None:
        self.token = token
        self.csrf = csrf or secrets.token_urlsafe(32)
        self._session = None if token is None else session_value(token)

    def bearer_ok(self, headers: dict[str, str]) -> bool:
        """Whether the request carries the token as a bearer header."""
        if self.token is None:
            return False
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self.token.encode()
        )

    def cookie_ok(self, headers: dict[str, str]) -> bool:
        """Whether the request carries a valid session cookie (always, without a token)."""
        if self._session is None:
            return True
        value = _cookies(headers.get("cookie", "")).get(SESSION_COOKIE, "")
        return hmac.compare_digest(value.encode(), self._session.encode())

    def csrf_ok(self, headers: dict[str, str]) -> bool:
        """Whether the request carries the CSRF value."""
        return hmac.compare_digest(headers.get(CSRF_HEADER, "").encode(), self.csrf.encode())

    def token_ok(self, given: str) -> bool:
        """Whether ``given`` (the login form's field) is the token."""
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())


class TokenGate:
    """ASGI middleware: let through what :class:`Gate` allows, refuse the rest.

    Parameters
    ----------
    app : ASGI app
        The web app.
    gate : Gate
        The server's secrets.
    """

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope.get("path", "/")
        method: str = scope.get("method", "GET")
        if method in _UNSAFE_METHODS and _cross_site(headers):
            await _refuse(send, 403, "cross-site request refused", path)
            return
        if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        bearer = self.gate.bearer_ok(headers)
        if not bearer and not self.gate.cookie_ok(headers):
            if self.gate.token is not None and headers.get("authorization"):
                await _refuse(send, 401, "wrong token", path)
            else:
                await _refuse(send, 401, "log in first: a token is required", path)
            return
        if method in _UNSAFE_METHODS and not bearer and not self.gate.csrf_ok(headers):
            await _refuse(
                send, 403, "missing or wrong X-CSRF-Token header (see GET /api/session)", path
            )
            return
        await self.app(scope, receive, send)


def _cross_site(headers: dict[str, str]) -> bool:
    """Whether the request's Origin (when a browser sends one) is another site than ours."""
    origin = headers.get("origin")
    if origin is None:
        return False
    if origin == "null":
        return True
    return urlsplit(origin).netloc.lower() != headers.get("host", "").lower()


def _cookies(header: str) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in header.split(";"))
    return {name: value for name, _, value in pairs if name}


async def _refuse(send: Send, status: int, message: str, path: str) -> None:
    """Answer JSON to the API, and send a browser's page request to the login form."""
    if status == 401 and not path.startswith("/api/"):
        location = "/login?next=" + quote(path, safe="/")
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    body = json.dumps({"error": message}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        head.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
