"""Each host's window and pace as last decided, in the catalog (``host_windows``).

Rules:
- One row per host, replaced by every later decision (an upsert: ``INSERT ... ON
  CONFLICT DO UPDATE``, which both SQLite and PostgreSQL have), so workers deciding at
  once never fail on the primary key: the last write wins, as the last decision should.
- A decision older than the stored one does not replace it (workers' clocks differ a
  little; a late write of an old decision must not undo a newer one).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog.schema import host_windows
from skyhaul.core.windowchange import HostDecision

_FIELDS = ("host", "window", "rate", "reason", "decided_at", "decided_by")


def record(c: Connection, decision: HostDecision) -> None:
    """Store ``decision`` as its host's, unless a newer one is stored."""
    values = {name: getattr(decision, name) for name in _FIELDS}
    dialect: Any = postgresql if c.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(host_windows).values(values)
    newer = statement.excluded.decided_at >= host_windows.c.decided_at
    c.execute(
        statement.on_conflict_do_update(
            index_elements=[host_windows.c.host],
            set_={name: statement.excluded[name] for name in _FIELDS[1:]},
            where=newer,
        )
    )


def read(c: Connection, host: str | None = None) -> dict[str, HostDecision]:
    """Return the stored decisions (of ``host`` only, when given), by host."""
    query = select(*(host_windows.c[name] for name in _FIELDS)).order_by(host_windows.c.host)
    if host is not None:
        query = query.where(host_windows.c.host == host)
    return {row.host: HostDecision(*row) for row in c.execute(query)}
