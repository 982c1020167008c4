"""Per-host window decisions shared by every worker.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

- ``host_windows``: one row per host, its concurrency window and pace as last decided by
  any worker, with the reason (:class:`skyhaul.core.windowchange.HostDecision`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "host_windows",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Float()),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", _UTC, nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("host", name="pk_host_windows"),
    )


def downgrade() -> None:
    op.drop_table("host_windows")
