"""Credentials of a source: read from environment variables or files, never from config text.

Rules:
- A source table may name ``token_env`` or ``token_file`` (a bearer token), or a user name
  (``username`` or ``username_env``) with ``password_env`` or ``password_file`` (HTTP Basic).
- A secret written directly in the configuration (``token``, ``password``) is refused:
  configuration files get committed and shared; environment variables and secret files do not.
- Secrets never appear in ``repr``, messages or logs; a missing variable or unreadable file
  is a ``ConfigError`` naming the variable or file, not its value.
- A bearer token goes into a header as it is, so it must be printable ASCII: a control
  character (a newline pasted along, a header injection) or a non-ASCII one is refused
  when the source is built, never sent. User names and passwords are base64-encoded.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyhaul.errors import ConfigError

__all__ = [
    "CREDENTIAL_KEYS",
    "Credentials",
    "credentials_from_options",
    "refuse_inline_secrets",
]

CREDENTIAL_KEYS = frozenset(
    {
        "token_env",
        "token_file",
        "username",
        "username_env",
        "password_env",
        "password_file",
        "download_origins",
    }
)
"""Option keys of credentials (``download_origins``: more origins the files come from)."""
_INLINE_SECRETS = ("token", "password", "secret", "api_key")


@dataclass(frozen=True, slots=True)
class Credentials:
    """HTTP credentials; ``repr`` never shows them."""

    authorization: str | None = field(default=None, repr=False)
    """The ``Authorization`` header value, or None for anonymous access."""

    def headers(self) -> dict[str, str]:
        """Request headers that carry the credentials (empty when anonymous)."""
        return {} if self.authorization is None else {"Authorization": self.authorization}

    def __repr__(self) -> str:
        return "Credentials(anonymous)" if self.authorization is None else "Credentials(REDACTED)"


def credentials_from_options(
    options: Mapping[str, Any],
    *,
    where: str,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Read a source's credentials as its options say.

    Parameters
    ----------
    options : Mapping
        The source table (other keys are ignored).
    where : str
        Where the table is, for messages (``skyhaul.toml: sources.lasco``).
    base_dir : Path
        Relative ``*_file`` paths are read from here.
    environ : Mapping or None
        The environment (default ``os.environ``).

    Raises
    ------
    ConfigError
        A secret written inline, a variable not set, a file not readable or empty, or a
        user name without a password (and the reverse).
    """
    env = os.environ if environ is None else environ
    refuse_inline_secrets(options, where)
    token = _secret(options, "token", where=where, base_dir=base_dir, env=env)
    user = options.get("username")
    if "username_env" in options:
        user = _from_env(str(options["username_env"]), where=where, env=env)
    password = _secret(options, "password", where=where, base_dir=base_dir, env=env)
    if token is not None and (user is not None or password is not None):
        raise ConfigError(f"{where}: give either a token or a username and password, not both")
    if token is not None:
        if not (token.isascii() and token.isprintable()):
            held_in = (
                f"environment variable {options['token_env']}"
                if "token_env" in options
                else str(_secret_file(options, "token_file", base_dir))
            )
            raise ConfigError(
                f"{where}: the token in {held_in} has a control or non-ASCII character,"
                " which an HTTP header cannot carry"
            )
        return Credentials(f"Bearer {token}")
    if (user is None) != (password is None):
        missing = "password_env or password_file" if password is None else "username"
        raise ConfigError(f"{where}: {missing} is missing for HTTP Basic authentication")
    if user is not None and password is not None:
        pair = f"{user}:{password}".encode()
        return Credentials("Basic " + base64.b64encode(pair).decode("ascii"))
    return Credentials()


def refuse_inline_secrets(options: Mapping[str, Any], where: str) -> None:
    """Raise ``ConfigError`` for a secret written in the configuration itself."""
    for key in _INLINE_SECRETS:
        if key in options:
            raise ConfigError(
                f"{where}: {key!r} must not be written in the configuration; "
                f"use {key}_env (an environment variable) or {key}_file instead"
            )


def _secret(
    options: Mapping[str, Any], name: str, *, where: str, base_dir: Path, env: Mapping[str, str]
) -> str | None:
    env_key, file_key = f"{name}_env", f"{name}_file"
    if env_key in options and file_key in options:
        raise ConfigError(f"{where}: give {env_key} or {file_key}, not both")
    if env_key in options:
        return _from_env(str(options[env_key]), where=where, env=env)
    if file_key in options:
        return _from_file(_secret_file(options, file_key, base_dir), where=where)
    return None


def _secret_file(options: Mapping[str, Any], key: str, base_dir: Path) -> Path:
    return base_dir / Path(str(options[key])).expanduser()


def _from_env(variable: str, *, where: str, env: Mapping[str, str]) -> str:
    value = env.get(variable, "").strip()
    if not value:
        raise ConfigError(f"{where}: environment variable {variable} is not set")
    return value


def _from_file(path: Path, *, where: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    if not value:
        raise ConfigError(f"{where}: {path} is empty")
    return value
