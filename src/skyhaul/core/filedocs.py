"""A catalog file as a JSON document: what ``skyhaul ls --json`` prints and the web API
answers.

Rules:
- Every URL in it is redacted (the file's, its mirrors', its validator's): passwords,
  signatures and tokens never leave the catalog.
- Times are ISO 8601, enums their values; the file's own fields first, then its copies,
  then its mission metadata.
- Pure: standard library only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from enum import Enum

from skyhaul.core.copies import CopyRecord
from skyhaul.core.metadata import METADATA_NAMES
from skyhaul.core.model import AttemptRecord, FileRecord
from skyhaul.core.redact import redact_url

__all__ = ["attempt_document", "file_document"]

# FileRecord inherits its mission metadata, so dataclass order would put it first. The
# file's copies come between its own fields and its metadata, which ends the document.
_OWN_FIELDS = tuple(f.name for f in dataclasses.fields(FileRecord) if f.name not in METADATA_NAMES)


def file_document(record: FileRecord, copies: Sequence[CopyRecord] = ()) -> dict[str, object]:
    """Return one catalog file as a JSON-ready dict (URLs redacted, times in ISO 8601)."""
    document = {name: _plain(getattr(record, name)) for name in _OWN_FIELDS}
    document["url"] = redact_url(record.url)
    document["mirrors"] = [redact_url(url) for url in record.mirrors]
    if record.validator_url is not None:
        document["validator_url"] = redact_url(record.validator_url)
    document["copies"] = [
        {
            "dest_root": c.dest_root,
            "path": c.path,
            "state": c.state.value,
            "last_error": c.last_error,
        }
        for c in copies
    ]
    document.update((name, _plain(getattr(record, name))) for name in METADATA_NAMES)
    return document


def attempt_document(attempt: AttemptRecord) -> dict[str, object]:
    """Return one attempt (of the append-only log) as a JSON-ready dict."""
    return {
        "started_at": attempt.started_at.isoformat(),
        "finished_at": attempt.finished_at.isoformat(),
        "outcome": attempt.outcome,
        "bytes": attempt.bytes,
        "error_class": None if attempt.error_class is None else attempt.error_class.value,
        "message": attempt.message,
        "sources": [{"url": redact_url(url), "bytes": count} for url, count in attempt.sources],
    }


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value
