"""Destinations unique by their real path; copies of files in further destinations.

Revision ID: 0006
Revises: 0005
Create Date: 2027-01-20

- ``files.real_path``: the destination's real path (root and relative path joined and
  normalised), unique (``ix_files_real_path``), so that overlapping roots cannot name
  one file twice. Existing rows get it from their root and path as stored (roots were
  stored resolved); where two rows already shared one, the first (lowest id) keeps it
  and the others keep NULL (their ``(dest_root, path)`` still differ).
- ``copies``: a file's copies in further destinations, with their state (WANTED,
  PRESENT), size and sha256 as verified; ``ix_copies_real_path`` (unique) and
  ``ix_copies_file_id``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("files", sa.Column("real_path", sa.Text()))
    # In SQL, one statement: a Python loop over a million rows would take minutes on
    # PostgreSQL. A root ending in '/' is the file system's root.
    op.execute(
        "UPDATE files SET real_path = CASE WHEN dest_root LIKE '%/' "
        "THEN dest_root || path ELSE dest_root || '/' || path END"
    )
    op.create_index("ix_files_real_path_dup", "files", ["real_path"])
    op.execute(
        "UPDATE files SET real_path = NULL WHERE EXISTS (SELECT 1 FROM files AS first "
        "WHERE first.real_path = files.real_path AND first.id < files.id)"
    )
    op.drop_index("ix_files_real_path_dup", table_name="files")
    op.create_index("ix_files_real_path", "files", ["real_path"], unique=True)
    op.create_table(
        "copies",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("file_id", _ID, nullable=False),
        sa.Column("dest_root", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("real_path", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("copied_at", _UTC),
        sa.Column("last_error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_copies"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_copies_file_id_files", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_copies_real_path", "copies", ["real_path"], unique=True)
    op.create_index("ix_copies_file_id", "copies", ["file_id"])


def downgrade() -> None:
    op.drop_table("copies")
    op.drop_index("ix_files_real_path", table_name="files")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("real_path")
