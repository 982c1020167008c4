"""Column types: datetimes go in and come out timezone-aware UTC on every backend.

SQLite has no timezone-aware type, so values are stored as naive UTC text there and
given their tzinfo back on the way out; PostgreSQL stores ``timestamptz`` and returns it
in the session time zone, which is converted to UTC. Naive datetimes are refused on the
way in: guessing their zone is how catalogs end up an hour off.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as UTC and returned timezone-aware (``tzinfo=UTC``)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: pass a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def datetime_binder(dialect: Dialect) -> Callable[[datetime | None], Any]:
    """Return the function turning a datetime into what ``dialect``'s driver is given.

    For bulk statements run below SQLAlchemy's per-row machinery; the stored form stays
    the one :class:`UTCDateTime` defines.
    """
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    if process is None:  # pragma: no cover - TypeDecorator always has a processor
        return lambda value: value
    return process
