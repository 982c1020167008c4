"""Transports chosen per URL scheme: one registry per run.

Rules:
- A scheme maps to a factory; the transport is built the first time a URL of that scheme
  is opened, so a run of HTTP files never imports the S3 library, and one transport (one
  connection pool) serves every file of its scheme.
- A URL whose scheme no transport serves is a permanent client error of that file, not
  of the run.
- ``default_transports`` wires HTTP(S) from the run's options (timeouts, TLS, the
  sources' credentials) and S3 from the standard AWS environment (obstore is imported
  only when the first ``s3://`` URL is opened).
- A transport that cannot be configured (a half-made AWS setup) raises ``ConfigError``
  when first asked for: the run stops with exit code 2; it is not a failure of a file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from skyhaul.core.model import TransferOptions
from skyhaul.core.redact import redact_url
from skyhaul.errors import ClientError
from skyhaul.ports.transport import Transport

__all__ = ["TransportRegistry", "default_transports"]

TransportFactory = Callable[[], Transport]


class TransportRegistry:
    """The transports of a run, by URL scheme (see :class:`skyhaul.ports.transport.Transports`).

    Parameters
    ----------
    factories : Mapping of str to callable
        Lower-case scheme (``https``) to a function building its transport. Schemes that
        share a factory object share one transport.
    """

    def __init__(self, factories: Mapping[str, TransportFactory]) -> None:
        self._factories = dict(factories)
        self._built: dict[TransportFactory, Transport] = {}
        self._by_scheme: dict[str, Transport] = {}

    def for_url(self, url: str) -> Transport:
        """Return the transport of ``url``'s scheme, building it on first use."""
        scheme = url.partition(":")[0]
        transport = self._by_scheme.get(scheme)
        if transport is not None:
            return transport
        factory = self._factories.get(scheme.lower())
        if factory is None:
            known = ", ".join(sorted(self._factories))
            raise ClientError(f"no transport for {redact_url(url)} (supported: {known})")
        transport = self._built.get(factory)
        if transport is None:
            transport = self._built[factory] = factory()
        self._by_scheme[scheme] = transport
        return transport

    async def close(self) -> None:
        """Close every transport built so far."""
        built, self._built, self._by_scheme = self._built, {}, {}
        for transport in built.values():
            await transport.close()


def default_transports(options: TransferOptions) -> TransportRegistry:
    """HTTP(S) and S3 transports configured from a run's options."""

    def http() -> Transport:
        from skyhaul.adapters.http import HttpSettings, HttpTransport

        return HttpTransport(
            HttpSettings(
                connect_timeout=options.connect_timeout,
                read_timeout=options.read_timeout,
                verify_tls=options.verify_tls,
                authorization=options.credentials,
            )
        )

    def s3() -> Transport:
        from skyhaul.adapters.s3 import S3Settings, S3Transport

        transport = S3Transport(
            S3Settings(
                connect_timeout=options.connect_timeout,
                read_timeout=options.read_timeout,
                verify_tls=options.verify_tls,
            )
        )
        # A half-made AWS setup is the run's configuration error (exit 2), found now
        # rather than as a failure of each file.
        _ = transport.access
        return transport

    return TransportRegistry({"http": http, "https": http, "s3": s3})
