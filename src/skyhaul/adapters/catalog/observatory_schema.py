"""The observatory's tables, on the catalog's one ``metadata`` (see :mod:`.schema`).

Rules:
- ``sites`` and ``locations`` (unique by site and name) are few rows; everything else
  names a location by its id.
- ``raw_files`` is unique by ``(location_id, path)``: registering again is idempotent.
  ``package_id`` is set once, when the file's package is created.
- ``package_members`` holds each member's path in the tar and its sha256 (the file's,
  as registered), so a package is verified member by member without the raw files.
- ``physical_copies``: where the bytes of a file or a package are (exactly one of
  ``file_id`` and ``package_id``), unique by ``(location_id, path)``.
- ``operations``: the pipeline's units of work, claimed compare-and-set under a lease.
  ``open_key`` is set while an operation is open (pending, scheduled, in progress) and
  NULL once it is done or failed: its unique index makes enqueueing the same operation
  twice find the open one, on both backends and under concurrent enqueuers.
- Importing this module registers the tables on ``metadata``; :mod:`.migrate` imports it.

Indices and the query each one serves:

- ``ix_raw_files_unpackaged`` (location_id, path), over files in no package:
  ``unpackaged_files`` of a location.
- ``ix_raw_files_package_id``, over packaged files: a package's files.
- ``ix_package_members_file_id``: the packages of a file (the key serves a package's).
- ``ix_packages_state`` (state, id): packages by state.
- ``ix_physical_copies_file_id`` and ``ix_physical_copies_package_id`` (partial): the
  copies of a file, of a package; ``uq_physical_copies_location_id_path``: a location's.
- ``ix_operations_claim`` (kind, status, id): ``claim_operations``.
- ``ix_operations_lease`` (status, lease_expires_at), over leased operations:
  ``recover_stale_operations``.
- ``ix_operations_package_id`` (partial): a package's operations.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from skyhaul.adapters.catalog.schema import Id, metadata
from skyhaul.adapters.catalog.types import UTCDateTime

__all__ = [
    "locations",
    "operations",
    "package_members",
    "packages",
    "physical_copies",
    "raw_files",
    "sites",
]

sites = Table(
    "sites",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("short_name", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("name"),
)

locations = Table(
    "locations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", Id, ForeignKey("sites.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("type", String(32), nullable=False),
    Column("url", Text, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("site_id", "name"),
)

packages = Table(
    "packages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("obs_unit", Text, nullable=False),
    Column("instrument_module", Text, nullable=False),
    Column("source_location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("size", BigInteger),
    Column("sha256", String(64)),
    Column("error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("name"),
)

Index("ix_packages_state", packages.c.state, packages.c.id)

raw_files = Table(
    "raw_files",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("path", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("obs_unit", Text, nullable=False),
    Column("instrument_module", Text, nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("package_id", Id, ForeignKey("packages.id")),
    UniqueConstraint("location_id", "path"),
)


def _where(column: Column[Any], *, known: bool) -> dict[str, Any]:
    condition = column.is_not(None) if known else column.is_(None)
    return {"sqlite_where": condition, "postgresql_where": condition}


Index(
    "ix_raw_files_unpackaged",
    raw_files.c.location_id,
    raw_files.c.path,
    **_where(raw_files.c.package_id, known=False),
)
Index(
    "ix_raw_files_package_id",
    raw_files.c.package_id,
    **_where(raw_files.c.package_id, known=True),
)

package_members = Table(
    "package_members",
    metadata,
    Column("package_id", Id, ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True),
    Column("file_id", Id, ForeignKey("raw_files.id"), primary_key=True),
    Column("path", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
)

Index("ix_package_members_file_id", package_members.c.file_id)

physical_copies = Table(
    "physical_copies",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("file_id", Id, ForeignKey("raw_files.id")),
    Column("package_id", Id, ForeignKey("packages.id")),
    Column("path", Text, nullable=False),
    Column("status", String(32), nullable=False),
    Column("sha256", String(64)),
    Column("verified_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("location_id", "path"),
)

Index(
    "ix_physical_copies_file_id",
    physical_copies.c.file_id,
    **_where(physical_copies.c.file_id, known=True),
)
Index(
    "ix_physical_copies_package_id",
    physical_copies.c.package_id,
    **_where(physical_copies.c.package_id, known=True),
)

operations = Table(
    "operations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("package_id", Id, ForeignKey("packages.id")),
    Column("copy_id", Id, ForeignKey("physical_copies.id")),
    Column("source_location_id", Id, ForeignKey("locations.id")),
    Column("destination_location_id", Id, ForeignKey("locations.id")),
    Column("retries", Integer, nullable=False),
    Column("max_retries", Integer, nullable=False),
    Column("error_class", String(32)),
    Column("error", Text),
    Column("lease_owner", Text),
    Column("lease_expires_at", UTCDateTime),
    Column("heartbeat_at", UTCDateTime),
    Column("open_key", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

Index("ix_operations_claim", operations.c.kind, operations.c.status, operations.c.id)
Index(
    "ix_operations_lease",
    operations.c.status,
    operations.c.lease_expires_at,
    **_where(operations.c.lease_expires_at, known=True),
)
Index(
    "ix_operations_package_id",
    operations.c.package_id,
    **_where(operations.c.package_id, known=True),
)
Index("ix_operations_open_key", operations.c.open_key, unique=True)
