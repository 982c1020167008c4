"""The database seam: engines, transactions, and SQLAlchemy errors mapped to ours.

Rules:
- Every catalog call runs in exactly one transaction, through :meth:`Database.write` or
  :meth:`Database.read`; nothing else touches a connection.
- A SQLite catalog file is created readable and writable by its owner only (0600): it
  holds signed URLs. SQLite gives its ``-wal`` and ``-shm`` files the same mode. An
  engine asked not to create leaves a missing file missing (``NoCatalogError``).
- SQLite: WAL, ``synchronous=NORMAL``, a 30 s busy timeout and foreign keys, set on
  every new connection. Write transactions start with ``BEGIN IMMEDIATE`` so that two
  writers queue on the busy timeout instead of deadlocking when a read turns into a write;
  reads use a deferred ``BEGIN`` and never wait for writers (WAL).
- PostgreSQL: READ COMMITTED; a transaction that lost a deadlock or a serialization race
  is simply run again (every unit of work is a function of its inputs).
- No SQLAlchemy or driver exception leaves this module: each is mapped to a skyhaul error
  with one line naming the (redacted) catalog URL. Programming errors in values we were
  given (a naive datetime) surface as the ``ValueError`` they are.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from skyhaul.adapters.catalog.urls import describe_catalog
from skyhaul.core.redact import redact_url
from skyhaul.errors import CatalogUnavailableError, NoCatalogError, SkyhaulError, UsageError

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10
#: Attempts at a PostgreSQL transaction that keeps losing deadlocks or serialization races.
MAX_TRIES = 5
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
#: Execution option of a connection whose transactions only read (SQLite: BEGIN DEFERRED).
READONLY = "skyhaul_readonly"


def parse_url(url: str) -> URL:
    """Parse a catalog URL, refusing backends the catalog does not support."""
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError):  # ValueError: e.g. a port that is no number
        raise ValueError("not a database URL") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {backend!r} (use sqlite or postgresql)")
    return parsed


def is_memory_sqlite(url: URL) -> bool:
    """Tell whether ``url`` names an in-memory SQLite database."""
    return url.get_backend_name() == "sqlite" and (
        url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
    )


def create_catalog_engine(url: str, *, create: bool = True) -> Engine:
    """Create the engine for a catalog URL, with the per-backend settings above.

    For a SQLite file, the parent directory and the file (mode 0600) are created, unless
    ``create`` is False: then a missing file is a ``NoCatalogError``. Raises
    ``ValueError`` for URLs that cannot be a catalog, ``OSError`` when the directory
    cannot be made, and SQLAlchemy or import errors for unknown drivers (the caller maps
    them).
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        if is_memory_sqlite(parsed):
            # One shared connection: all access is serialised by Database (see below).
            engine = create_engine(
                parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
        else:
            if parsed.database and not parsed.query.get("uri"):
                path = Path(parsed.database).expanduser()
                if create:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    _create_private(path)
                elif not path.exists():
                    raise NoCatalogError(f"no catalog at {describe_catalog(url)}")
            engine = create_engine(
                parsed,
                connect_args={"check_same_thread": False},
                pool_size=8,
                max_overflow=24,
            )
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)


def _create_private(path: Path) -> None:
    """Create an empty database file that only its owner can read (SQLite takes an
    empty file as an empty database), unless it exists."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # an existing catalog keeps its mode; a directory fails at connect
    os.close(descriptor)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not issue BEGIN itself: _on_sqlite_begin does, with the right mode.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch the database file to WAL (a persistent setting) unless it already is.

    Switching needs a moment of exclusive access and SQLite reports "database is locked"
    at once, without its busy handler, when two first connections race to switch: the
    loser waits a little and looks again.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return  # in-memory databases answer "memory" and stay so
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _on_sqlite_begin(connection: Connection) -> None:
    readonly = connection.get_execution_options().get(READONLY, False)
    connection.exec_driver_sql("BEGIN DEFERRED" if readonly else "BEGIN IMMEDIATE")


def one_line_reason(error: BaseException) -> str:
    """Return the first line of what the driver (or library) said about ``error``."""
    if isinstance(error, sa_exc.NoSuchModuleError):
        return "unknown database driver"
    if isinstance(error, sa_exc.ArgumentError):
        return "not a valid database URL"
    orig = getattr(error, "orig", None)
    source = orig if isinstance(orig, BaseException) else error
    lines = [line.strip() for line in str(source).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(source).__name__


def map_error(error: Exception, url: str) -> Exception:
    """Return the skyhaul error to raise for a SQLAlchemy error during a catalog call."""
    if (
        isinstance(error, sa_exc.StatementError)
        and not isinstance(error, sa_exc.DBAPIError)
        and isinstance(error.orig, ValueError | TypeError)
    ):
        return error.orig  # a bad value from our caller, e.g. a naive datetime
    message = f"catalog {redact_url(url)}: {one_line_reason(error)}"
    if isinstance(error, sa_exc.IntegrityError | sa_exc.DataError):
        return UsageError(message)
    if isinstance(
        error,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.DisconnectionError
        | sa_exc.TimeoutError,
    ):
        return CatalogUnavailableError(message)
    return SkyhaulError(message)


def unavailable(error: BaseException, url: str) -> CatalogUnavailableError:
    """Return the error for a catalog that cannot be opened at all."""
    return CatalogUnavailableError(
        f"cannot open catalog {redact_url(url)}: {one_line_reason(error)}"
    )


def _is_transient(error: sa_exc.DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) in _TRANSIENT_SQLSTATES


class Database:
    """An engine, and the two ways a catalog call gets a transaction on it.

    Parameters
    ----------
    engine : Engine
        From :func:`create_catalog_engine`.
    url : str
        The catalog URL (named, redacted, in error messages).
    """

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self.dialect = engine.dialect.name
        # An in-memory SQLite database is one connection: take turns on it.
        self._turn: threading.Lock | None = (
            threading.Lock() if is_memory_sqlite(engine.url) else None
        )

    @contextlib.contextmanager
    def _my_turn(self) -> Iterator[None]:
        if self._turn is None:
            yield
        else:
            with self._turn:
                yield

    def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction; commit if it returns, roll back if it raises."""
        tries = 0
        while True:
            tries += 1
            try:
                with self._my_turn(), self.engine.begin() as connection:
                    return work(connection)
            except sa_exc.DBAPIError as error:
                if tries < MAX_TRIES and _is_transient(error):
                    continue
                raise map_error(error, self.url) from error
            except sa_exc.SQLAlchemyError as error:
                raise map_error(error, self.url) from error

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a read-only transaction (a consistent snapshot on SQLite)."""
        try:
            with self._my_turn(), self.engine.connect() as connection:
                connection.execution_options(**{READONLY: True})
                with connection.begin():
                    return work(connection)
        except sa_exc.SQLAlchemyError as error:
            raise map_error(error, self.url) from error

    @property
    def shareable(self) -> bool:
        """True unless the database is in-memory SQLite (one process's private memory)."""
        return self._turn is None

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
