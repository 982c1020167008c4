"""Discovery: the version a source listed, and time indices without an instrument.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

- ``files.remote_version``: what a source's listing said identifies the content (an ETag,
  a modification time); rediscovery compares it to flag remote changes.
- ``ix_files_obs`` and ``ix_files_downlink``: observation and downlink windows over all
  instruments (the 0001 indices lead with the instrument).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

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


def downgrade() -> None:
    op.drop_index("ix_files_downlink", "files")
    op.drop_index("ix_files_obs", "files")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("remote_version")
