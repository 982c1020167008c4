"""Jobs: every run has an identity another process can watch and cancel.

Revision ID: 0004
Revises: 0003
Create Date: 2027-01-10

- ``jobs``: one row per job (kind, parameters, state, times, owner and lease, cancel
  flag, the latest published progress, the final summary and error).
- ``job_files``: the files a job concerns (many to many).
- ``ix_jobs_state`` (state, id): jobs by state, newest first.
- ``ix_jobs_lease`` (state, lease_expires_at), over jobs holding a lease: running jobs
  whose lease expired.
- ``ix_job_files_file_id``: the jobs of a file.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("started_at", _UTC),
        sa.Column("finished_at", _UTC),
        sa.Column("owner", sa.Text()),
        sa.Column("lease_expires_at", _UTC),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("progress", sa.Text()),
        sa.Column("progress_at", _UTC),
        sa.Column("summary", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_state", "jobs", ["state", "id"])
    leased = sa.text("lease_expires_at IS NOT NULL")
    op.create_index(
        "ix_jobs_lease",
        "jobs",
        ["state", "lease_expires_at"],
        sqlite_where=leased,
        postgresql_where=leased,
    )
    op.create_table(
        "job_files",
        sa.Column("job_id", _ID, nullable=False),
        sa.Column("file_id", _ID, nullable=False),
        sa.PrimaryKeyConstraint("job_id", "file_id", name="pk_job_files"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_job_files_job_id_jobs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_job_files_file_id_files", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_job_files_file_id", "job_files", ["file_id"])


def downgrade() -> None:
    op.drop_table("job_files")
    op.drop_table("jobs")
