"""The observatory: sites, locations, raw files, packages, physical copies, operations.

Revision ID: 0008
Revises: 0007
Create Date: 2027-02-16

- ``sites`` (unique name) and ``locations`` (unique site and name; type, URL,
  priority, active).
- ``raw_files`` (unique location and path; size, sha256, obs unit, instrument module,
  package), ``ix_raw_files_unpackaged`` over files in no package and
  ``ix_raw_files_package_id`` over the others.
- ``packages`` (unique name; state, tar size and sha256, error), ``ix_packages_state``;
  ``package_members`` (path in the tar, size, sha256), ``ix_package_members_file_id``.
- ``physical_copies`` (unique location and path; file or package, status, sha256,
  verified time), with partial indices on ``file_id`` and ``package_id``.
- ``operations`` (kind, status, package, copy, locations, retries, error, lease,
  heartbeat, ``open_key`` unique while open), ``ix_operations_claim``,
  ``ix_operations_lease`` over leased rows, ``ix_operations_package_id``.

Nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = sa.DateTime(timezone=True)


def _partial(name: str, table: str, columns: list[str], condition: str) -> None:
    where = sa.text(condition)
    op.create_index(name, table, columns, sqlite_where=where, postgresql_where=where)


def _fk(
    column: str, table: str, referred: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=f"fk_{table}_{column}_{referred}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("short_name", sa.String(64), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
        sa.UniqueConstraint("name", name="uq_sites_name"),
    )
    op.create_table(
        "locations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("site_id", _ID, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_locations"),
        _fk("site_id", "locations", "sites"),
        sa.UniqueConstraint("site_id", "name", name="uq_locations_site_id_name"),
    )
    op.create_table(
        "packages",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("obs_unit", sa.Text(), nullable=False),
        sa.Column("instrument_module", sa.Text(), nullable=False),
        sa.Column("source_location_id", _ID, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("error", sa.Text()),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_packages"),
        _fk("source_location_id", "packages", "locations"),
        sa.UniqueConstraint("name", name="uq_packages_name"),
    )
    op.create_index("ix_packages_state", "packages", ["state", "id"])
    op.create_table(
        "raw_files",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("location_id", _ID, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("obs_unit", sa.Text(), nullable=False),
        sa.Column("instrument_module", sa.Text(), nullable=False),
        sa.Column("registered_at", _UTC, nullable=False),
        sa.Column("package_id", _ID),
        sa.PrimaryKeyConstraint("id", name="pk_raw_files"),
        _fk("location_id", "raw_files", "locations"),
        _fk("package_id", "raw_files", "packages"),
        sa.UniqueConstraint("location_id", "path", name="uq_raw_files_location_id_path"),
    )
    _partial("ix_raw_files_unpackaged", "raw_files", ["location_id", "path"], "package_id IS NULL")
    _partial("ix_raw_files_package_id", "raw_files", ["package_id"], "package_id IS NOT NULL")
    op.create_table(
        "package_members",
        sa.Column("package_id", _ID, nullable=False),
        sa.Column("file_id", _ID, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("package_id", "file_id", name="pk_package_members"),
        _fk("package_id", "package_members", "packages", ondelete="CASCADE"),
        _fk("file_id", "package_members", "raw_files"),
    )
    op.create_index("ix_package_members_file_id", "package_members", ["file_id"])
    op.create_table(
        "physical_copies",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("location_id", _ID, nullable=False),
        sa.Column("file_id", _ID),
        sa.Column("package_id", _ID),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("verified_at", _UTC),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_physical_copies"),
        _fk("location_id", "physical_copies", "locations"),
        _fk("file_id", "physical_copies", "raw_files"),
        _fk("package_id", "physical_copies", "packages"),
        sa.UniqueConstraint("location_id", "path", name="uq_physical_copies_location_id_path"),
    )
    _partial("ix_physical_copies_file_id", "physical_copies", ["file_id"], "file_id IS NOT NULL")
    _partial(
        "ix_physical_copies_package_id",
        "physical_copies",
        ["package_id"],
        "package_id IS NOT NULL",
    )
    op.create_table(
        "operations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("package_id", _ID),
        sa.Column("copy_id", _ID),
        sa.Column("source_location_id", _ID),
        sa.Column("destination_location_id", _ID),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("error_class", sa.String(32)),
        sa.Column("error", sa.Text()),
        sa.Column("lease_owner", sa.Text()),
        sa.Column("lease_expires_at", _UTC),
        sa.Column("heartbeat_at", _UTC),
        sa.Column("open_key", sa.Text()),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_operations"),
        _fk("package_id", "operations", "packages"),
        _fk("copy_id", "operations", "physical_copies"),
        _fk("source_location_id", "operations", "locations"),
        _fk("destination_location_id", "operations", "locations"),
    )
    op.create_index("ix_operations_claim", "operations", ["kind", "status", "id"])
    _partial(
        "ix_operations_lease",
        "operations",
        ["status", "lease_expires_at"],
        "lease_expires_at IS NOT NULL",
    )
    _partial("ix_operations_package_id", "operations", ["package_id"], "package_id IS NOT NULL")
    op.create_index("ix_operations_open_key", "operations", ["open_key"], unique=True)


def downgrade() -> None:
    for table in (
        "operations",
        "physical_copies",
        "package_members",
        "raw_files",
        "packages",
        "locations",
        "sites",
    ):
        op.drop_table(table)
