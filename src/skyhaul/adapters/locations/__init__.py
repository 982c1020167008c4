"""Storage locations by URL: ``file:///abs/path`` on local disk, ``s3://bucket/prefix``.

Each implements :class:`skyhaul.ports.locations.LocationStorage`; one conformance suite
(``tests/adapters/locations``) runs against both.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from skyhaul.adapters.locations.local import LocalLocation
from skyhaul.adapters.locations.s3 import S3Location
from skyhaul.adapters.s3 import S3Transport
from skyhaul.core.redact import redact_url
from skyhaul.errors import ConfigError
from skyhaul.ports.locations import LocationStorage

__all__ = ["LocalLocation", "S3Location", "location_storage"]


def location_storage(url: str, *, s3: S3Transport | None = None) -> LocationStorage:
    """Return the storage a location URL names.

    Parameters
    ----------
    url : str
        ``file:///absolute/path`` (percent-escapes decoded) or ``s3://bucket[/prefix]``.
    s3 : S3Transport, optional
        The transport whose stores and AWS settings an ``s3://`` location shares; by
        default the location makes its own (closed by its ``aclose``).

    Returns
    -------
    LocationStorage
        A :class:`LocalLocation` or an :class:`S3Location`.

    Raises
    ------
    skyhaul.errors.ConfigError
        For any other URL; the message names the URL (redacted) and the forms accepted.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "file" and parts.netloc in ("", "localhost") and parts.path.startswith("/"):
        return LocalLocation(unquote(parts.path))
    if scheme == "s3" and parts.netloc and not (parts.query or parts.fragment):
        return S3Location(parts.netloc, parts.path.strip("/"), transport=s3)
    raise ConfigError(
        f"not a location URL: {redact_url(url)!r} (use file:///absolute/path or s3://bucket/prefix)"
    )
