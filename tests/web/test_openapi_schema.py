"""The JSON API against its own OpenAPI schema (schemathesis): for any input it generates,
no operation answers 5xx, nor a status, content type, body or ``Allow`` header its schema
does not declare, and malformed input is refused.

The schema is the app's own (read without running it); each operation's cases go to a
running app over a catalog in ``tmp_path``. The live event streams (``.../events``) are
left out: they stream until the job ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python.asgi import shutdown_lifespans
from tests.web.mast_fixtures import module_mast_sim

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.backfill import DayRun, DayStatus, day_window
from skyhaul.core.model import FileSpec
from skyhaul.sim.thread import SimThread
from skyhaul.web.app import create_app
from skyhaul.web.auth import CSRF_HEADER, TokenGate
from skyhaul.web.settings import WebSettings

__all__ = ["module_mast_sim"]  # the fixture

NOW = datetime(2026, 1, 1, tzinfo=UTC)
#: Not ``positive_data_acceptance``: the schema types filters as strings, and their grammar
#: (dates, header conditions) is the app's to check, so a schema-valid string may be a 400.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    allow_header_conformance,
]

schema = schemathesis.openapi.from_dict(create_app(WebSettings()).openapi()).exclude(
    path_regex=r"/events$"
)


@pytest.fixture
def web_settings(web_settings: WebSettings, module_mast_sim: SimThread) -> WebSettings:
    """The shared settings, MAST being the simulator's (never the real one)."""
    return replace(web_settings, mast_url=module_mast_sim.mast.server_url)


@pytest.fixture
def served(web_app: FastAPI, web_catalog: Catalog) -> Iterator[FastAPI]:
    """``web_app`` over a catalog with a few files and a day of ledger; its lifespan
    (which schemathesis starts at the first request) is stopped afterwards."""
    specs = [FileSpec(f"https://archive.example/{n}.fits", f"{n}.fits") for n in range(3)]
    web_catalog.register(specs, "/data", now=NOW)
    start, end = day_window(NOW.date())
    web_catalog.append_day_run(
        DayRun("run", "telemetry", NOW.date(), DayStatus.PENDING, start, end, NOW)
    )
    yield web_app
    shutdown_lifespans()


@pytest.fixture
def csrf(web_app: FastAPI) -> str:
    """The app's CSRF value (its gate is the token middleware's)."""
    gates = [m.kwargs["gate"] for m in web_app.user_middleware if m.cls is TokenGate]
    return str(gates[0].csrf)


@schema.parametrize()
@settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_server_error_nor_undeclared_status(
    case: schemathesis.Case, served: FastAPI, csrf: str
) -> None:
    case.call_and_validate(
        app=served,
        headers={CSRF_HEADER: csrf},
        checks=CHECKS,
    )


def test_schema_declares_400_for_bad_input_never_422() -> None:
    operations = [
        operation
        for methods in create_app(WebSettings()).openapi()["paths"].values()
        for operation in methods.values()
    ]
    with_parameters = [o for o in operations if o.get("parameters") or o.get("requestBody")]
    assert with_parameters
    assert all("400" in o["responses"] for o in with_parameters)
    assert not any("422" in o["responses"] for o in operations)
