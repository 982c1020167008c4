"""FITS headers and archive records of files.

Revision ID: 0007
Revises: 0006
Create Date: 2027-02-02

- ``file_headers``: one row per file whose FITS headers were read (``fits_metadata``) or
  whose archive record was registered (``FileSpec.origin``): the indexed header values
  (TELESCOP, INSTRUME, DETECTOR, FILTER, TARGNAME, RA_TARG, DEC_TARG, DATE-OBS,
  EXPTIME), the cards as JSON, the origin as JSON, and when the headers were read. Each
  indexed value has a partial index over the rows that know it. The files table does
  not change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = sa.DateTime(timezone=True)
#: The indexed values as this revision made them (written out: a migration is frozen).
_VALUES = (
    ("telescop", sa.Text()),
    ("instrume", sa.Text()),
    ("detector", sa.Text()),
    ("filter", sa.Text()),
    ("targname", sa.Text()),
    ("ra_targ", sa.Float()),
    ("dec_targ", sa.Float()),
    ("date_obs", _UTC),
    ("exptime", sa.Float()),
)


def upgrade() -> None:
    op.create_table(
        "file_headers",
        sa.Column("file_id", _ID, nullable=False),
        *(sa.Column(name, kind) for name, kind in _VALUES),
        sa.Column("cards", sa.Text()),
        sa.Column("origin", sa.Text()),
        sa.Column("read_at", _UTC),
        sa.PrimaryKeyConstraint("file_id", name="pk_file_headers"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_file_headers_file_id_files", ondelete="CASCADE"
        ),
    )
    for name, _ in _VALUES:
        known = sa.text(f"{name} IS NOT NULL")
        op.create_index(
            f"ix_file_headers_{name}",
            "file_headers",
            [name],
            sqlite_where=known,
            postgresql_where=known,
        )


def downgrade() -> None:
    op.drop_table("file_headers")
