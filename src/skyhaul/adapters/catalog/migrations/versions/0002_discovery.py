"""Discovery: the version a source listed, and time indices without an instrument.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

- ``files.remote_version``: what a source's listing said identifies the content (an ETag,
  a modification time); rediscovery compares it to flag remote changes.
- ``ix_files_obs`` and ``ix_files_downlink``: observation and downlink windows over all
  instruments (the 0001 indices lead with the instrument).
- ``catalog_facts``: facts about the rows that make queries cheaper; for now the longest
  observation, which bounds an observation-window query from below.
"""

from __future__ import annotations

import math

import sqlalchemy as sa
from alembic import op

from skyhaul.adapters.catalog.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("remote_version", sa.Text()))
    for name, columns, known in (
        ("ix_files_obs", ["obs_start", "obs_end"], "obs_start"),
        ("ix_files_downlink", ["downlink_time"], "downlink_time"),
    ):
        condition = sa.text(f"{known} IS NOT NULL")
        op.create_index(name, "files", columns, sqlite_where=condition, postgresql_where=condition)
    facts = op.create_table(
        "catalog_facts",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_catalog_facts"),
    )
    op.bulk_insert(facts, [{"name": "longest_observation_s", "value": _longest_observation()}])


def _longest_observation() -> int:
    """Seconds of the longest observation already in the catalog (rounded up)."""
    files = sa.table(
        "files", sa.column("obs_start", UTCDateTime()), sa.column("obs_end", UTCDateTime())
    )
    query = sa.select(files.c.obs_start, files.c.obs_end).where(
        files.c.obs_start.is_not(None), files.c.obs_end.is_not(None)
    )
    longest = 0.0
    for start, end in op.get_bind().execute(query):
        longest = max(longest, (end - start).total_seconds())
    return math.ceil(longest)


def downgrade() -> None:
    op.drop_table("catalog_facts")
    op.drop_index("ix_files_downlink", "files")
    op.drop_index("ix_files_obs", "files")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("remote_version")
