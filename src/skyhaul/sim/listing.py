"""The archive's catalogue as clients see it: listings, manifests, filters, pass schedule.

Rules:
- A listing shows each file's *current* generation: size, SHA-256 and ETag change when
  the content does.
- Times are ISO 8601 UTC with a ``Z`` and whole seconds.
- Filters: ``instrument`` (comma-separated, any case), ``slot`` (comma-separated ids), and
  a time window ``[start, end)`` that selects by ``by=observation`` (the observation
  overlaps the window; the default) or ``by=downlink`` (the downlink time is inside it).
  A bad filter raises :class:`FilterError`; the server answers 400 with its message.
- Manifests (CSV and JSON) carry exactly :data:`MANIFEST_COLUMNS`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

# The simulator serves exactly the manifest format that ``skyhaul get -i`` reads.
from skyhaul.adapters.manifest import MANIFEST_COLUMNS as MANIFEST_COLUMNS
from skyhaul.sim.archive import Slot
from skyhaul.sim.cache import FileVersion


class FilterError(ValueError):
    """A listing filter cannot be read; the message says which and why."""


@dataclass(frozen=True)
class ListedFile:
    """One file as listed: where to get it and what it should be.

    Parameters
    ----------
    url : str
        Absolute URL of the file.
    version : FileVersion
        The file's current generation.
    """

    url: str
    version: FileVersion

    @property
    def path(self) -> str:
        """Archive-relative path."""
        return self.version.file.path

    @property
    def size(self) -> int:
        """Size in bytes."""
        return self.version.size

    @property
    def sha256(self) -> str:
        """SHA-256 of the content, in hex."""
        return self.version.sha256

    @property
    def checksum(self) -> str:
        """Checksum in skyhaul's ``algorithm:hex`` form."""
        return f"sha256:{self.version.sha256}"

    def to_json(self) -> dict[str, object]:
        """Return the ``/api/files`` entry for this file."""
        file = self.version.file
        return {
            "url": self.url,
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "checksum": self.checksum,
            "instrument": file.instrument,
            "obs_start": iso_z(file.obs_start),
            "obs_end": iso_z(file.obs_end),
            "downlink_time": iso_z(file.downlink_time),
            "slot": file.slot,
            "generation": self.version.generation,
            "etag": self.version.etag,
            "mirrors": [],
        }

    def manifest_row(self) -> dict[str, object]:
        """Return the manifest row for this file (:data:`MANIFEST_COLUMNS`)."""
        entry = self.to_json()
        row = {column: entry[column] for column in MANIFEST_COLUMNS}
        row["mirrors"] = ""  # each file has one URL here (text, as a CSV cell)
        return row


@dataclass(frozen=True)
class ListingFilter:
    """Which files a listing shows.

    Parameters
    ----------
    instruments : frozenset of str or None
        Upper-case instrument names; None for all.
    slots : frozenset of str or None
        Slot ids; None for all.
    start, end : datetime or None
        The time window ``[start, end)``; either side may be open.
    by : {"observation", "downlink"}
        Which time the window applies to.
    """

    instruments: frozenset[str] | None = None
    slots: frozenset[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    by: str = "observation"

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> ListingFilter:
        """Read a filter from URL query parameters.

        Parameters
        ----------
        query : Mapping of str to str
            ``instrument``, ``slot``, ``start``, ``end`` and ``by``; others are ignored.

        Returns
        -------
        ListingFilter
            The filter.

        Raises
        ------
        FilterError
            If a time cannot be read or ``by`` is not ``observation`` or ``downlink``.
        """
        by = query.get("by", "observation").strip().lower()
        if by not in ("observation", "downlink"):
            raise FilterError(f"by must be 'observation' or 'downlink', got {by!r}")
        start = _parse_time("start", query.get("start"))
        end = _parse_time("end", query.get("end"))
        if start is not None and end is not None and end < start:
            raise FilterError("end must not be before start")
        return cls(
            instruments=_names(query.get("instrument"), upper=True),
            slots=_names(query.get("slot"), upper=False),
            start=start,
            end=end,
            by=by,
        )

    def accepts(self, version: FileVersion) -> bool:
        """Whether the filter selects this file."""
        file = version.file
        if self.instruments is not None and file.instrument.upper() not in self.instruments:
            return False
        if self.slots is not None and file.slot not in self.slots:
            return False
        if self.by == "downlink":
            return _inside(file.downlink_time, self.start, self.end)
        return (self.end is None or file.obs_start < self.end) and (
            self.start is None or file.obs_end > self.start
        )


def manifest_csv(entries: Iterable[ListedFile]) -> str:
    """Render a CSV manifest (header row and one row per file)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        writer.writerow(entry.manifest_row())
    return out.getvalue()


def slots_json(slots: Sequence[Slot], start: datetime | None, end: datetime | None) -> list[object]:
    """Return the pass schedule as JSON, keeping passes that overlap ``[start, end)``."""
    return [
        {"slot": s.slot, "station": s.station, "start": iso_z(s.start), "end": iso_z(s.end)}
        for s in slots
        if (end is None or s.start < end) and (start is None or s.end > start)
    ]


def iso_z(moment: datetime) -> str:
    """Format a UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_window(query: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    """Read the ``start`` and ``end`` query parameters (for ``/api/slots``)."""
    return _parse_time("start", query.get("start")), _parse_time("end", query.get("end"))


def _parse_time(name: str, value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(f"{name}: not an ISO 8601 time: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _names(value: str | None, *, upper: bool) -> frozenset[str] | None:
    if value is None or not value.strip():
        return None
    names = (n.strip() for n in value.split(","))
    return frozenset(n.upper() if upper else n for n in names if n)


def _inside(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment < end)
