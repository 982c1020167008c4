"""The SQL a catalog sends, collected for tests that count or inspect statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from skyhaul.adapters.catalog import Catalog


@contextmanager
def statements(catalog: Catalog) -> Iterator[list[str]]:
    """Collect the SQL statements the catalog sends inside the block."""
    seen: list[str] = []

    def collect(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = catalog._db.engine
    event.listen(engine, "before_cursor_execute", collect)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", collect)
