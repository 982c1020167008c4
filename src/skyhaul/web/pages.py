"""The pages: jobs, one job, files, backfill, MAST, packages, and the login form.

Rules:
- A page is rendered on the server for its first paint where that is cheap (the jobs, a
  job, the catalog's totals and latest files); its script then keeps it live through the
  JSON API (``/api``), the same one scripts use. Nothing here downloads or decides.
- Templates autoescape: every name, message and URL from outside is text, never markup.
- Every page carries the CSRF value in ``<meta name="csrf-token">`` for its script's POSTs.
- The login form is the one place a token is typed. Its POST is read by hand (an
  urlencoded body, so no multipart parser is needed); on the right token it sets the
  session cookie (an HMAC of the token, HttpOnly, SameSite=Strict) and goes on to
  ``?next=`` when that is a path on this server, else to the jobs page: never to another
  site.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from skyhaul.core.filedocs import file_document
from skyhaul.core.lifecycle import FileState
from skyhaul.core.packages import PackageState
from skyhaul.core.placement import CopyStatus
from skyhaul.services.job_view import job_document, jobs_documents
from skyhaul.services.observatory.package_view import location_copies, packages_documents
from skyhaul.web.auth import SESSION_COOKIE, session_value
from skyhaul.web.deps import Server, server
from skyhaul.web.formats import FILTERS

__all__ = ["TEMPLATES_DIR", "router"]

TEMPLATES_DIR = Path(__file__).parent / "templates"
#: Files the Files page shows before its script asks for more.
FIRST_FILES = 100
#: Where a login goes when ``next`` is missing or not a path on this server.
HOME = "/jobs"
#: The longest login body read (a token and a path).
_MAX_LOGIN_BODY = 16 * 1024

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.filters.update(FILTERS)

Running = Annotated[Server, Depends(server)]


@router.get("/")
def home() -> Response:
    """The jobs page is the home page."""
    return RedirectResponse(HOME, status_code=303)


@router.get("/jobs")
async def jobs_page(request: Request, running: Running) -> Response:
    """Every job: state, progress, files, bytes, speed, ETA; cancel and resume."""
    jobs = await asyncio.to_thread(jobs_documents, running.catalog, running.live)
    return _page(request, running, "jobs.html", "jobs", jobs=jobs)


@router.get("/jobs/{job_id}")
async def job_page(request: Request, running: Running, job_id: int) -> Response:
    """One job live: progress, throughput, files in flight, recent files, summary."""
    job = await asyncio.to_thread(job_document, running.catalog, running.live, job_id)
    if job is None:
        return _page(
            request, running, "missing.html", "jobs", status=404, message=f"no job {job_id}"
        )
    return _page(request, running, "job.html", "jobs", job=job, title=f"Job {job_id}")


@router.get("/files")
async def files_page(request: Request, running: Running) -> Response:
    """The catalog: totals per state, filters, files with their attempts, retry / ignore."""

    def read() -> tuple[dict[str, Any], list[dict[str, object]], int]:
        totals = running.catalog.status_summary()
        files = running.catalog.list_files(limit=FIRST_FILES, order="-updated_at")
        return (
            {state.value: t for state, t in totals.items()},
            [file_document(f) for f in files],
            sum(t.count for t in totals.values()),
        )

    totals, files, count = await asyncio.to_thread(read)
    # A filtered view is the script's (it asks /api/files); the first paint is the latest.
    filtered = bool(request.url.query)
    return _page(
        request,
        running,
        "files.html",
        "files",
        totals=totals,
        files=[] if filtered else files,
        count=count,
        filtered=filtered,
        states=[s.value for s in FileState],
    )


@router.get("/backfill")
def backfill_page(request: Request, running: Running) -> Response:
    """A records source's day ledger and its availability chart."""
    return _page(request, running, "backfill.html", "backfill")


@router.get("/mast")
def mast_page(request: Request, running: Running) -> Response:
    """Search MAST, list an observation's products, import them."""
    return _page(request, running, "mast.html", "mast", dest_root=str(running.settings.dest_root))


@router.get("/packages")
async def packages_page(request: Request, running: Running) -> Response:
    """The observatory's data: per location its copies by status, and the packages."""

    def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        locations = [
            location_copies(running.catalog, location, limit=0)
            for location in running.catalog.list_locations()
        ]
        return locations, packages_documents(running.catalog)

    locations, packages = await asyncio.to_thread(read)
    return _page(
        request,
        running,
        "packages.html",
        "packages",
        locations=locations,
        packages=packages,
        package_states=[s.value for s in PackageState],
        copy_statuses=[s.value for s in CopyStatus],
    )


@router.get("/login")
def login_form(request: Request, running: Running) -> Response:
    """The form where a browser gives the token."""
    if running.gate.token is None:
        return RedirectResponse(HOME, status_code=303)
    return _login(request, running, request.query_params.get("next", ""))


@router.post("/login")
async def login(request: Request, running: Running) -> Response:
    """Check the token; on success set the session cookie and go on to ``next``."""
    if running.gate.token is None:
        return RedirectResponse(HOME, status_code=303)
    body = await request.body()
    fields = parse_qs(body[:_MAX_LOGIN_BODY].decode("utf-8", "replace"), max_num_fields=8)
    token = fields.get("token", [""])[0]
    wanted = fields.get("next", [request.query_params.get("next", "")])[0]
    if not running.gate.token_ok(token):
        return _login(request, running, wanted, message="Wrong token.", status=401)
    response = RedirectResponse(local_path(wanted), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(token),
        httponly=True,
        samesite="strict",
        path="/",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/logout")
def logout() -> Response:
    """Forget the session cookie."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def local_path(wanted: str) -> str:
    """``wanted`` when it is a path on this server, else the home page.

    ``//host`` and ``/\\host`` are other sites to a browser, and a control character could
    split the header: all go home.
    """
    if (
        not wanted.startswith("/")
        or wanted.startswith(("//", "/\\"))
        or any(ord(c) < 32 or c == "\x7f" for c in wanted)
    ):
        return HOME
    return wanted


def _login(
    request: Request, running: Running, wanted: str, *, message: str = "", status: int = 200
) -> Response:
    return _page(
        request, running, "login.html", "", status=status, next=local_path(wanted), message=message
    )


def _page(
    request: Request,
    running: Running,
    template: str,
    section: str,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    context.update(
        csrf=running.gate.csrf,
        section=section,
        token_required=running.gate.token is not None,
    )
    return templates.TemplateResponse(request, template, context, status_code=status)
