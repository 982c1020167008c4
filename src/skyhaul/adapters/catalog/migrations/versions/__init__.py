"""One module per schema version; Alembic skips this file."""
