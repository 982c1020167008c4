"""What a file's FITS content says about it: stored, filtered on, read back.

Rules:
- Rows of ``file_headers`` are written by upsert on ``file_id``, by two writers that
  each own their columns: registration the ``origin`` (a new origin replaces the old),
  the completion of a checked download the header values, cards and ``read_at``. Neither
  clears what the other wrote.
- Nothing here runs unless there is something to write: a registration without origins
  and completions without headers cost no statement (small-file runs stay as fast).
- Headers are stored in the transaction that makes their file DOWNLOADED, for the files
  it did promote only; a remote change of the file forgets them (they describe bytes
  that are gone), its origin stays. They also fill the file's mission metadata where it is unknown:
  ``instrument`` from INSTRUME, ``obs_start`` from DATE-OBS (only for a file without any
  observation time, so the longest-observation fact still holds).
- A condition (:mod:`skyhaul.core.fitsquery`) is SQL on the indexed columns: text
  compared as stored (upper case; ``*`` as LIKE's ``%``), a date as its whole UTC day.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog.records import chunks
from skyhaul.adapters.catalog.schema import file_headers, files
from skyhaul.adapters.catalog.types import UTCDateTime
from skyhaul.core.fitsheaders import (
    HEADER_COLUMNS,
    StoredHeaders,
    decode_headers,
    encode_headers,
)
from skyhaul.core.fitsquery import WILDCARD, HeaderCondition
from skyhaul.core.model import Completion, FileSpec

__all__ = [
    "forget_headers",
    "header_clauses",
    "store_headers",
    "store_origins",
    "stored_headers",
]

_VALUE_NAMES = tuple(column.name for column in HEADER_COLUMNS)
_HEADER_WRITES = (*_VALUE_NAMES, "cards", "read_at")
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_LATEST = datetime.max.replace(tzinfo=UTC)


def _upsert(c: Connection, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    """Insert ``rows`` into ``file_headers``; on a known file, set only ``columns``."""
    # The dialect's own insert (for ON CONFLICT), imported when needed, as in .totals.
    insert: Any
    if c.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(file_headers)
    statement = statement.on_conflict_do_update(
        index_elements=[file_headers.c.file_id],
        set_={name: statement.excluded[name] for name in columns},
    )
    for chunk in chunks(rows, 500):
        c.execute(statement, list(chunk))


def store_origins(c: Connection, specs: Iterable[FileSpec]) -> None:
    """Store the origin of each spec that has one (its file registered already)."""
    by_url = {spec.url: spec.origin for spec in specs if spec.origin is not None}
    if not by_url:
        return
    rows: list[dict[str, Any]] = []
    for chunk in chunks(list(by_url)):
        found = c.execute(select(files.c.id, files.c.url).where(files.c.url.in_(chunk)))
        rows.extend({"file_id": row.id, "origin": by_url[row.url]} for row in found)
    if rows:
        _upsert(c, rows, ["origin"])


def store_headers(
    c: Connection, items: Sequence[Completion], promoted: Collection[int], now: datetime
) -> None:
    """Store the headers of the completions whose files were promoted (see the rules)."""
    checked = [item for item in items if item.headers is not None and item.file_id in promoted]
    if not checked:
        return
    rows: list[dict[str, Any]] = []
    fills: list[dict[str, Any]] = []
    for item in checked:
        assert item.headers is not None
        values = item.headers.values()
        rows.append(
            {
                "file_id": item.file_id,
                **values,
                "cards": encode_headers(item.headers),
                "read_at": now,
            }
        )
        if values["instrume"] is not None or values["date_obs"] is not None:
            fills.append(
                {
                    "_id": item.file_id,
                    "v_instrument": values["instrume"],
                    "v_obs": values["date_obs"],
                }
            )
    _upsert(c, rows, _HEADER_WRITES)
    if fills:
        _fill_metadata(c, fills)


def forget_headers(c: Connection, file_ids: Sequence[int]) -> None:
    """Forget the headers of files whose remote content changed (their origin stays)."""
    cleared = dict.fromkeys(_HEADER_WRITES)
    for chunk in chunks(sorted(file_ids)):
        c.execute(update(file_headers).where(file_headers.c.file_id.in_(chunk)).values(cleared))


def _fill_metadata(c: Connection, fills: list[dict[str, Any]]) -> None:
    untimed = and_(files.c.obs_start.is_(None), files.c.obs_end.is_(None))
    c.execute(
        update(files)
        .where(files.c.id == bindparam("_id"))
        .values(
            instrument=func.coalesce(files.c.instrument, bindparam("v_instrument")),
            obs_start=case(
                (untimed, bindparam("v_obs", type_=UTCDateTime())), else_=files.c.obs_start
            ),
        ),
        fills,
    )


def stored_headers(c: Connection, file_id: int) -> StoredHeaders | None:
    """What ``file_headers`` holds for one file (None: nothing)."""
    row = c.execute(select(file_headers).where(file_headers.c.file_id == file_id)).first()
    if row is None:
        return None
    mapping = row._mapping
    return StoredHeaders(
        file_id=file_id,
        values={column.keyword: mapping[column.name] for column in HEADER_COLUMNS},
        headers=None if row.cards is None else decode_headers(row.cards),
        origin=row.origin,
        read_at=row.read_at,
    )


# --- conditions -------------------------------------------------------------------------


def header_clauses(conditions: Iterable[HeaderCondition]) -> list[ColumnElement[bool]]:
    """The condition that a file's id has a ``file_headers`` row meeting every one."""
    tests = [_test(condition) for condition in conditions]
    if not tests:
        return []
    return [files.c.id.in_(select(file_headers.c.file_id).where(*tests))]


def _test(condition: HeaderCondition) -> ColumnElement[bool]:
    column: Any = file_headers.c[condition.column.name]
    op, value = condition.op, condition.value
    if isinstance(value, date) and not isinstance(value, datetime):
        return _day_test(column, op, value)
    if condition.pattern:
        assert isinstance(value, str)
        pattern = _like(value)
        if op == "=":
            return column.like(pattern, escape="\\")  # type: ignore[no-any-return]
        return column.not_like(pattern, escape="\\")  # type: ignore[no-any-return]
    return _OPERATORS[op](column, literal(value, type_=column.type))  # type: ignore[no-any-return]


def _day_test(column: Any, op: str, day: date) -> ColumnElement[bool]:
    """A date stands for its whole UTC day ``[start, end)``."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    try:
        end = start + timedelta(days=1)
    except OverflowError:  # the calendar's last day
        end = _LATEST
    first, after = literal(start, type_=column.type), literal(end, type_=column.type)
    if op == "=":
        return and_(column >= first, column < after)
    if op == "!=":
        return or_(column < first, column >= after)
    bound = {"<": first, "<=": after, ">": after, ">=": first}[op]
    strict = operator.lt if op in ("<", "<=") else operator.ge
    return strict(column, bound)  # type: ignore[no-any-return]


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace(WILDCARD, "%")
