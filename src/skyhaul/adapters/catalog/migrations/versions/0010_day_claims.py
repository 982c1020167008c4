"""Day claims: the days of a backfill job run by workers, claimed under a lease.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-05

- ``day_claims``: one row per planned day of a backfill job (its action), with the
  worker holding it (``owner``), until when (``lease_until``), how many times it was
  claimed, and whether it is done. The ledger stays append-only; claims live here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "day_claims",
        sa.Column("job_id", _ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.Text()),
        sa.Column("lease_until", _UTC),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "day", name="pk_day_claims"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_day_claims_job_id_jobs", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("day_claims")
