"""The storage side of a records backfill: one import for the services that use it.

Rules:
- Checking a chunk's answer and spooling it live in :mod:`records_spool`; assembling a
  day's artifact in :mod:`records_output`; checking and counting an artifact on disk in
  :mod:`records_check`. This module only names their public API in one place.
"""

from __future__ import annotations

from skyhaul.adapters.records_check import check_artifact, count_records
from skyhaul.adapters.records_output import OUTPUT_FORMATS, Artifact, OutputFormat, assemble_day
from skyhaul.adapters.records_spool import ChunkSpool, parse_chunk

__all__ = [
    "OUTPUT_FORMATS",
    "Artifact",
    "ChunkSpool",
    "OutputFormat",
    "assemble_day",
    "check_artifact",
    "count_records",
    "parse_chunk",
]
