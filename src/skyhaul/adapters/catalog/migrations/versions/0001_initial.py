"""The initial catalog: files, segments, attempts, state totals, slots.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written by hand and frozen: later schema changes are new revisions, never edits here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("dest_root", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text()),
        sa.Column("size", sa.BigInteger()),
        sa.Column("checksum", sa.Text()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("validator", sa.Text()),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("error_class", sa.String(32)),
        sa.Column("next_attempt_at", _UTC),
        sa.Column("lease_owner", sa.Text()),
        sa.Column("lease_expires_at", _UTC),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("downloaded_at", _UTC),
        sa.Column("instrument", sa.Text()),
        sa.Column("obs_start", _UTC),
        sa.Column("obs_end", _UTC),
        sa.Column("downlink_time", _UTC),
        sa.Column("slot", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_files"),
        sa.UniqueConstraint("url", name="uq_files_url"),
        sa.UniqueConstraint("dest_root", "path", name="uq_files_dest_root_path"),
    )
    op.create_index("ix_files_claim", "files", ["state", "next_attempt_at", "id"])
    _partial_index("ix_files_lease", ["state", "lease_expires_at"], "lease_expires_at")
    _partial_index("ix_files_instrument_obs", ["instrument", "obs_start", "obs_end"], "instrument")
    _partial_index("ix_files_instrument_downlink", ["instrument", "downlink_time"], "downlink_time")
    _partial_index("ix_files_slot", ["slot"], "slot")
    _partial_index("ix_files_request_id", ["request_id"], "request_id")
    _partial_index("ix_files_downloaded_at", ["downloaded_at"], "downloaded_at")

    op.create_table(
        "segments",
        sa.Column("file_id", _ID, nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("end", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("file_id", "start", name="pk_segments"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_segments_file_id_files", ondelete="CASCADE"
        ),
    )

    op.create_table(
        "attempts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("file_id", _ID, nullable=False),
        sa.Column("started_at", _UTC, nullable=False),
        sa.Column("finished_at", _UTC, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("error_class", sa.String(32)),
        sa.Column("message", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_attempts"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_attempts_file_id_files", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_attempts_file_id", "attempts", ["file_id"])

    op.create_table(
        "state_totals",
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False, autoincrement=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("unsized", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("state", "shard", name="pk_state_totals"),
    )

    op.create_table(
        "slots",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("start", _UTC, nullable=False),
        sa.Column("end", _UTC, nullable=False),
        sa.Column("station", sa.Text()),
        sa.PrimaryKeyConstraint("name", name="pk_slots"),
    )


def _partial_index(name: str, columns: list[str], known: str) -> None:
    """Index ``columns`` of the files whose ``known`` column is not null."""
    condition = sa.text(f"{known} IS NOT NULL")
    op.create_index(name, "files", columns, sqlite_where=condition, postgresql_where=condition)


def downgrade() -> None:
    for table in ("slots", "state_totals", "attempts", "segments", "files"):
        op.drop_table(table)
