"""Several sources per file; the job-files link replaces ``request_id``.

Revision ID: 0005
Revises: 0004
Create Date: 2027-01-12

- ``files.mirrors``: further URLs of the file, tried after ``url`` (JSON list).
- ``files.validator_url``: which of its URLs the recorded validator came from.
- ``attempts.sources``: which URL served how many bytes in the attempt (JSON object).
- ``files.request_id`` and its index go: a second ``get`` of a file overwrote the first
  one's; ``job_files`` links a file to every job that concerns it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("files", sa.Column("mirrors", sa.Text()))
    op.add_column("files", sa.Column("validator_url", sa.Text()))
    op.add_column("attempts", sa.Column("sources", sa.Text()))
    op.drop_index("ix_files_request_id", table_name="files")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("request_id")


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("request_id", sa.Text()))
    condition = sa.text("request_id IS NOT NULL")
    op.create_index(
        "ix_files_request_id",
        "files",
        ["request_id"],
        sqlite_where=condition,
        postgresql_where=condition,
    )
    op.drop_column("attempts", "sources")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("validator_url")
        batch.drop_column("mirrors")
