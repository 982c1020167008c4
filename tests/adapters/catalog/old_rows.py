"""Rows written as an older catalog held them, for migration tests.

Registration writes today's columns; a catalog at an older version lacks some of them,
so its rows are inserted here with the columns every version has.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from skyhaul.adapters.catalog.schema import files


def insert_files(engine: Engine, rows: list[Mapping[str, object]], *, now: datetime) -> None:
    """Insert DISCOVERED files (``url`` and ``path`` given, plus any column of 0001)."""
    with engine.begin() as connection:
        for row in rows:
            values = {
                "dest_root": "/d",
                "source": "cli",
                "state": "DISCOVERED",
                "attempts": 0,
                "bytes_done": 0,
                "created_at": now,
                "updated_at": now,
                **row,
            }
            # Only the columns named are in the statement, with today's column types.
            connection.execute(insert(files).values(values))
