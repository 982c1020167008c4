"""Filing: registering the raw files at a location, from a manifest or a scan of its disk.

Rules:
- A manifest's bad rows are reported (with their line numbers) and skipped; the good
  rows are registered. What spoils the whole manifest raises ``ManifestError`` and
  registers nothing.
- A scan needs the location's directory: an ``s3://`` location is refused in one line.
  Files the catalog has already at the same path and size are not hashed again; those
  already in a package never are (their registration is locked anyway).
- Each newly registered file (or an unpackaged one whose bytes changed) gets its PRESENT
  physical copy at the location, verified at registration time: from the start the
  catalog knows the last verified copy of every file. A file already packaged gets no
  copy recorded again, so a manifest read twice never brings back a copy deleted since.
- Registration is blocking (catalog calls, hashing); async callers use a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from os import PathLike

from skyhaul.adapters.raw_manifest import RowProblem, read_raw_manifest
from skyhaul.adapters.raw_scan import ScanSkip, scan_directory
from skyhaul.core.packages import RawFileSpec
from skyhaul.core.rawfiles import RawFileEntry
from skyhaul.core.scanpattern import ScanPattern
from skyhaul.core.sites import Location
from skyhaul.errors import UsageError
from skyhaul.ports.catalog import ObservatoryStore
from skyhaul.services.clock import SYSTEM_CLOCK, Clock
from skyhaul.services.observatory.refs import find_location, local_root

__all__ = ["FilingReport", "register_manifest", "scan"]


@dataclass(frozen=True, slots=True)
class FilingReport:
    """What one registration did.

    Attributes
    ----------
    location : str
        ``SITE/NAME``.
    new, known, changed, locked : int
        Files registered now; already registered alike; registered again with other
        values; changed but already packaged (kept as packaged).
    bad_rows : tuple of RowProblem
        Manifest rows skipped, with their line numbers.
    skipped : tuple of ScanSkip
        Files a scan left for the next one (changing, unreadable, ...).
    unmatched : int
        Files a scan found that its pattern does not match.
    copies : int
        PRESENT copies recorded (files new, or changed, at the location).
    """

    location: str
    new: int
    known: int
    changed: int
    locked: int
    bad_rows: tuple[RowProblem, ...] = ()
    skipped: tuple[ScanSkip, ...] = ()
    unmatched: int = 0
    copies: int = 0

    def as_json(self) -> dict[str, object]:
        """The report as a JSON document."""
        return {
            "location": self.location,
            "new": self.new,
            "known": self.known,
            "changed": self.changed,
            "locked": self.locked,
            "copies_recorded": self.copies,
            "bad_rows": [
                {"where": p.where, "line": p.line, "reason": p.reason} for p in self.bad_rows
            ],
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "unmatched": self.unmatched,
        }


def register_manifest(
    store: ObservatoryStore,
    location_ref: str,
    manifest: str | PathLike[str],
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> FilingReport:
    """Register the raw files a manifest lists at location ``location_ref``.

    Raises
    ------
    UsageError
        An unknown location; ``ManifestError`` for a manifest that cannot be read.
    """
    location = find_location(store, location_ref)
    listed = read_raw_manifest(manifest)
    report = _register(store, location, listed.entries, clock.now())
    return replace(report, bad_rows=listed.problems)


def scan(
    store: ObservatoryStore,
    location_ref: str,
    pattern: str,
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> FilingReport:
    """Find the files ``pattern`` matches in location ``location_ref``'s directory,
    hash the new ones, and register them.

    Raises
    ------
    UsageError
        An unknown or non-local location, a bad pattern, a directory that cannot be read.
    """
    try:
        parsed = ScanPattern.parse(pattern)
    except ValueError as error:
        raise UsageError(f"--pattern: {error}") from None
    location = find_location(store, location_ref)
    root = local_root(location, purpose="a scan")
    unpackaged = {f.path: f.size for f in store.unpackaged_files(location.id)}
    packaged = {c.path for c in store.copies_at(location.id) if c.file_id is not None}

    def known(path: str, size: int) -> bool:
        return unpackaged.get(path) == size or (path not in unpackaged and path in packaged)

    try:
        found = scan_directory(root, parsed, known=known)
    except OSError as error:
        raise UsageError(f"{location.ref}: cannot scan {root}: {error.strerror or error}") from None
    report = _register(store, location, found.files, clock.now())
    return replace(
        report,
        known=report.known + found.known,
        skipped=tuple(found.skipped),
        unmatched=found.unmatched,
    )


def _register(
    store: ObservatoryStore, location: Location, entries: Sequence[RawFileEntry], now: datetime
) -> FilingReport:
    """Register ``entries`` (the catalog records the PRESENT copy of each new or changed
    one in the same transaction)."""
    specs = [
        RawFileSpec(e.path, e.size, e.sha256, e.obs_unit, e.instrument_module) for e in entries
    ]
    counts = store.register_raw_files(location.id, specs, now=now) if specs else None
    recorded = 0 if counts is None else counts.new + counts.changed
    if counts is None:
        return FilingReport(location.ref, 0, 0, 0, 0)
    return FilingReport(
        location.ref, counts.new, counts.known, counts.changed, counts.locked, copies=recorded
    )
