"""Fixtures for web tests: the real app over a SQLite catalog in ``tmp_path``, driven
in-process (httpx's ASGI transport) with its lifespan running.

- ``web_catalog``: the open catalog (fill it through its own methods).
- ``web_settings``: the server's settings; its configuration file (empty) is
  ``web_settings.config``, for tests to write sources into.
- ``web_app``: the app over ``web_catalog`` without a token.
- ``api`` / ``api_no_csrf``: clients of a running ``web_app``, with and without the
  ``X-CSRF-Token`` header.
- ``open_api``: a factory of clients of a fresh app, for a token (``token=``) or other
  settings (``settings=``): ``async with open_api(token="t", bearer=True) as client``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.web.app import create_app
from skyhaul.web.auth import CSRF_HEADER
from skyhaul.web.settings import WebSettings

BASE_URL = "http://127.0.0.1"

OpenApi = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def web_catalog(tmp_path: Path) -> Iterator[Catalog]:
    """An empty SQLite catalog in ``tmp_path``."""
    opened = open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield opened
    opened.close()


@pytest.fixture
def web_settings(tmp_path: Path) -> WebSettings:
    """Settings with an empty configuration file and a destination in ``tmp_path``."""
    config = tmp_path / "skyhaul.toml"
    config.write_text("")
    return WebSettings(config=config, dest_root=tmp_path / "data", catalog_interval=0.1)


@pytest.fixture
def web_app(web_catalog: Catalog, web_settings: WebSettings) -> FastAPI:
    """The app over ``web_catalog``, without a token."""
    return create_app(web_settings, catalog=web_catalog)


@asynccontextmanager
async def _client(app: FastAPI, *, csrf: bool, headers: dict[str, str]) -> AsyncIterator[Any]:
    async with app.router.lifespan_context(app):
        if csrf:
            headers = {CSRF_HEADER: app.state.server.gate.csrf, **headers}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, headers=headers
        ) as client:
            yield client


@pytest.fixture
async def api(web_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running ``web_app`` that sends the CSRF header."""
    async with _client(web_app, csrf=True, headers={}) as client:
        yield client


@pytest.fixture
async def api_no_csrf(web_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running ``web_app`` without the CSRF header."""
    async with _client(web_app, csrf=False, headers={}) as client:
        yield client


@pytest.fixture
def open_api(web_catalog: Catalog, web_settings: WebSettings) -> OpenApi:
    """Open a client of a fresh app over ``web_catalog``.

    Keywords: ``token`` (the server's), ``bearer`` (send it as a bearer header),
    ``csrf`` (send the CSRF header, default True), ``settings`` (instead of
    ``web_settings``).
    """

    @asynccontextmanager
    async def opened(
        *,
        token: str | None = None,
        bearer: bool = False,
        csrf: bool = True,
        settings: WebSettings | None = None,
    ) -> AsyncIterator[httpx.AsyncClient]:
        chosen = dataclasses.replace(settings or web_settings, token=token)
        headers = {"authorization": f"Bearer {token}"} if bearer and token else {}
        app = create_app(chosen, catalog=web_catalog)
        async with _client(app, csrf=csrf, headers=headers) as client:
            yield client

    return opened
