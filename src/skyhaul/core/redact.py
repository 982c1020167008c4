"""Keep secrets out of logs, error messages and the catalog.

Rules:
- URLs are redacted by rewriting only the secret parts of the original text (userinfo
  password, values of sensitive query or fragment parameters); everything else is kept
  byte for byte, so a redacted URL still points at the same place for a reader.
- Parameter names match case-insensitively, by exact name or by a sensitive suffix
  (``..._token``, ``...secret``, ``...signature``, ...).
- Redaction never raises: a URL we cannot make sense of is still scanned as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote_plus

REDACTED = "REDACTED"

SENSITIVE_PARAMETERS = frozenset(
    {
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
        "signature",
        "sig",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth",
        "authorization",
        "api_key",
        "api-key",
        "apikey",
        "key",
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "policy",
        "key-pair-id",
        "sessionid",
        "jwt",
    }
)
"""Query or fragment parameter names (lower case) whose values are always redacted."""

_SENSITIVE_SUFFIXES = ("token", "secret", "password", "signature", "credential", "_key", "-key")

# scheme, //authority, path, ?query, #fragment: every part optional, so it always matches.
_URL_RE = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*:)?(?P<authority>//[^/?#]*)?"
    r"(?P<path>[^?#]*)(?P<query>\?[^#]*)?(?P<fragment>#.*)?",
    re.DOTALL,
)


def is_sensitive_parameter(name: str) -> bool:
    """Tell whether a query parameter named ``name`` carries a secret."""
    lowered = unquote_plus(name).strip().lower()
    return lowered in SENSITIVE_PARAMETERS or lowered.endswith(_SENSITIVE_SUFFIXES)


def _redact_parameters(params: str) -> str:
    parts = re.split(r"([&;])", params)
    for i in range(0, len(parts), 2):
        name, eq, _value = parts[i].partition("=")
        if eq and is_sensitive_parameter(name):
            parts[i] = f"{name}={REDACTED}"
    return "".join(parts)


def _redact_authority(authority: str) -> str:
    userinfo, at, hostport = authority[2:].rpartition("@")
    if not at:
        return authority
    user, colon, _password = userinfo.partition(":")
    return f"//{user}:{REDACTED}@{hostport}" if colon else authority


def redact_url(url: str) -> str:
    """Return ``url`` with its password and secret parameters replaced by ``REDACTED``.

    Parameters
    ----------
    url : str
        Any text meant to be a URL, well formed or not.

    Returns
    -------
    str
        The same URL with ``user:password@`` shown as ``user:REDACTED@`` and the values of
        sensitive query and fragment parameters (S3 and GCS presigned URL signatures,
        CloudFront ``Policy``/``Signature``/``Key-Pair-Id``, ``token``, ``api_key``,
        ``key``, ...) replaced by ``REDACTED``.

    Examples
    --------
    >>> redact_url("https://u:pw@host/f?X-Amz-Signature=abc&n=1")
    'https://u:REDACTED@host/f?X-Amz-Signature=REDACTED&n=1'
    """
    try:
        text = str(url)
        match = _URL_RE.fullmatch(text)
        if match is None:  # pragma: no cover - every group is optional
            return _redact_parameters(text)
        scheme, authority, path, query, fragment = match.group(
            "scheme", "authority", "path", "query", "fragment"
        )
        return "".join(
            (
                scheme or "",
                _redact_authority(authority) if authority else "",
                path or "",
                "?" + _redact_parameters(query[1:]) if query else "",
                "#" + _redact_parameters(fragment[1:]) if fragment else "",
            )
        )
    except Exception:  # pragma: no cover - last resort: never fail while reporting
        return REDACTED


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret value in ``text`` by ``REDACTED``.

    Both the raw secret and its percent-encoded form are replaced (a token also shows up
    encoded inside URLs). Empty secrets are ignored; longer secrets are replaced first so
    that one secret containing another is fully hidden.
    """
    variants: set[str] = set()
    for secret in secrets:
        if secret:
            variants.add(secret)
            variants.add(quote(secret, safe=""))
    for value in sorted(variants, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


def redact_urls_in(value: object) -> object:
    """Return a JSON-ready value with every string that holds a URL redacted.

    Walks mappings, lists and tuples (a tuple becomes a list); other values are kept.
    """
    if isinstance(value, str):
        return redact_url(value) if "://" in value else value
    if isinstance(value, Mapping):
        return {key: redact_urls_in(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_urls_in(item) for item in value]
    return value
