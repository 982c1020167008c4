"""Backfill ledger: one append-only row per state change of a day.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

- ``day_runs``: the per-day backfill ledger (:class:`skyhaul.core.backfill.DayRun`).
  Rows are only ever inserted; the latest row (highest id) of a day is its state.
- ``ix_day_runs_latest`` (source, day, id): the latest row of each day of a source in a
  date range, read from the index alone.
- ``ix_files_undated`` (source, created_at), over files without ``obs_start``: per-day file
  counts bucket such files by their creation day without scanning the files table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "day_runs",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("window_start", _UTC, nullable=False),
        sa.Column("window_end", _UTC, nullable=False),
        sa.Column("started_at", _UTC, nullable=False),
        sa.Column("finished_at", _UTC),
        sa.Column("records", sa.BigInteger()),
        sa.Column("expected_records", sa.BigInteger()),
        sa.Column("availability", sa.Float()),
        sa.Column("seconds", sa.Float()),
        sa.Column("size", sa.BigInteger()),
        sa.Column("path", sa.Text()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("output_format", sa.String(16), nullable=False),
        sa.Column("error_type", sa.Text()),
        sa.Column("error_message", sa.Text()),
        sa.Column("requests", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("throttled", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("id", name="pk_day_runs"),
    )
    op.create_index("ix_day_runs_latest", "day_runs", ["source", "day", "id"])
    condition = sa.text("obs_start IS NULL")
    op.create_index(
        "ix_files_undated",
        "files",
        ["source", "created_at"],
        sqlite_where=condition,
        postgresql_where=condition,
    )


def downgrade() -> None:
    op.drop_index("ix_files_undated", "files")
    op.drop_table("day_runs")
