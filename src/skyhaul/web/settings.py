"""What one ``skyhaul serve`` serves: its catalog, its configuration and who may use it.

Rules:
- Bound to loopback, the server may run without a token; bound to anything else it must
  have one (:func:`check_exposure`), and then every API call and page needs it.
- The token is read from an environment variable named on the command line, never from
  the command line itself (it would show in ``ps``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from skyhaul.errors import UsageError

__all__ = ["WebSettings", "check_exposure", "is_loopback"]


@dataclass(frozen=True, slots=True)
class WebSettings:
    """The server's settings.

    Parameters
    ----------
    catalog : str or None
        Catalog URL or SQLite path (None: ``$SKYHAUL_CATALOG`` or the default).
    config : Path or None
        Configuration file (sources, credentials); None: ``$SKYHAUL_CONFIG`` or
        ``./skyhaul.toml``.
    token : str or None
        What callers must present (bearer header or the login form's cookie); None: no
        login (loopback only).
    dest_root : Path
        Where imports started from the browser put their files.
    mast_url : str or None
        MAST's root (None: ``$SKYHAUL_MAST_URL``, else ``https://mast.stsci.edu``).
    verify_tls : bool
        Verify TLS certificates of archives (on unless asked otherwise).
    live_interval : float
        Seconds between two pushes of a job this server runs (several a second).
    catalog_interval : float
        Seconds between two reads of a job another process runs (its owner publishes
        about once a second).
    """

    catalog: str | None = None
    config: Path | None = None
    token: str | None = None
    dest_root: Path = Path("data")
    mast_url: str | None = None
    verify_tls: bool = True
    live_interval: float = 0.25
    catalog_interval: float = 1.0


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to serve off loopback without a token.

    Raises
    ------
    UsageError
        ``host`` is not loopback and there is no token.
    """
    if token is None and not is_loopback(host):
        raise UsageError(
            f"--host {host} is reachable from other machines: give a token with"
            " --token-env VAR (the name of an environment variable that holds it)"
        )
