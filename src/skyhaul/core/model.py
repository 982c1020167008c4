"""Plain values shared across layers: what a user asks for, what the catalog holds,
what a run reports. No behaviour beyond small derived properties."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.fitsheaders import FitsHeaders
from skyhaul.core.fitsquery import HeaderCondition
from skyhaul.core.lifecycle import FileState
from skyhaul.core.metadata import MissionMetadata
from skyhaul.core.ratecontrol import MAX_PAUSE_SECONDS
from skyhaul.core.speedfloor import DEFAULT_MIN_SPEED, DEFAULT_MIN_SPEED_TIME

DEFAULT_SEGMENT_SIZE = 8 * 1024 * 1024
#: Seconds written bytes wait at most before they are made durable and recorded (a kill
#: then costs a slow transfer at most this much of its bytes; fast ones checkpoint every
#: half segment first).
DEFAULT_CHECKPOINT_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class FileSpec(MissionMetadata):
    """A remote file a user wants, as given by a manifest, a URL list or a source.

    Parameters
    ----------
    url : str
        Where to fetch it from.
    path : str
        Destination relative to the destination root (checked later for escapes).
    size : int or None
        Expected size in bytes, when known.
    checksum : str or None
        Expected checksum as ``algorithm:hex`` (sha256, md5, sha1 or adler32).
    source : str
        Name of the source that listed it (``cli`` for command-line URLs).
    version : str or None
        What the listing says identifies this content (an ETag, a modification time):
        when it differs from the one seen before, the remote file changed.
    mirrors : tuple of str
        Further URLs of the same file, tried in this order after ``url`` (S3 then HTTP,
        or mirrors of an archive).
    origin : str or None
        The archive's own record of the file, as JSON text (a MAST observation row): kept
        in the catalog beside the file's FITS headers (keyword-only).
    **metadata
        The mission metadata (:class:`~skyhaul.core.metadata.MissionMetadata`,
        keyword-only).
    """

    url: str
    path: str
    size: int | None = None
    checksum: str | None = None
    source: str = "cli"
    version: str | None = None
    mirrors: tuple[str, ...] = ()
    origin: str | None = field(default=None, kw_only=True)

    @property
    def urls(self) -> tuple[str, ...]:
        """Every URL of the file, in the order they are tried."""
        return (self.url, *self.mirrors)


@dataclass(frozen=True, slots=True)
class FileRecord(MissionMetadata):
    """One row of the catalog's files table, with its mission metadata (keyword-only)."""

    id: int
    url: str
    path: str
    dest_root: str
    state: FileState
    size: int | None = None
    checksum: str | None = None
    """Expected checksum given by the user or the archive (``algorithm:hex``)."""
    sha256: str | None = None
    """sha256 computed while downloading (stored for every DOWNLOADED file)."""
    validator: str | None = None
    """Remote validator (strong ETag, else Last-Modified) of the bytes on disk."""
    source: str = "cli"
    attempts: int = 0
    last_error: str | None = None
    error_class: ErrorClass | None = None
    next_attempt_at: datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    bytes_done: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    downloaded_at: datetime | None = None
    remote_version: str | None = None
    """What the source listed as the content's version (see ``FileSpec.version``)."""
    mirrors: tuple[str, ...] = ()
    """Further URLs of the file, tried after ``url`` in this order."""
    validator_url: str | None = None
    """Which of its URLs ``validator`` came from (None: ``url``)."""

    @property
    def urls(self) -> tuple[str, ...]:
        """Every URL of the file, in the order they are tried."""
        return (self.url, *self.mirrors)


@dataclass(frozen=True, slots=True)
class Completion:
    """The verified result of a transfer: the file is under its final name, to be recorded
    as DOWNLOADED.

    Parameters
    ----------
    file_id : int
        The catalog id.
    size : int
        Bytes verified.
    sha256 : str
        The sha256 computed while streaming (hex).
    validator : str or None
        The remote validator the bytes belong to.
    fetched : int
        Bytes received over the network in the attempt that completed it (the rest were
        durable from earlier attempts).
    headers : FitsHeaders or None
        The FITS headers read when the content was checked (``fits_metadata``), stored
        with the DOWNLOADED transition.
    """

    file_id: int
    size: int
    sha256: str
    validator: str | None = None
    fetched: int = 0
    headers: FitsHeaders | None = None


@dataclass(frozen=True, slots=True)
class Slot:
    """A ground-station pass: the window in which files are downlinked.

    Parameters
    ----------
    name : str
        The slot id.
    start, end : datetime
        The pass, ``[start, end)``, timezone-aware UTC.
    station : str or None
        Ground station code.
    """

    name: str
    start: datetime
    end: datetime
    station: str | None = None


@dataclass(frozen=True, slots=True)
class Selection:
    """Which files an operation applies to; ``None`` means no constraint."""

    states: frozenset[FileState] | None = None
    ids: tuple[int, ...] | None = None
    source: str | None = None
    instrument: str | None = None
    url_prefix: str | None = None
    obs_start: datetime | None = None
    """With ``obs_end``: files whose observation interval overlaps [obs_start, obs_end)."""
    obs_end: datetime | None = None
    downlink_start: datetime | None = None
    """With ``downlink_end``: files downlinked in [downlink_start, downlink_end)."""
    downlink_end: datetime | None = None
    downlink_windows: tuple[tuple[datetime, datetime], ...] | None = None
    """Files downlinked inside any of these ``[start, end)`` windows (ground-station passes)."""
    downloaded_start: datetime | None = None
    """With ``downloaded_end``: files that became DOWNLOADED in [start, end)."""
    downloaded_end: datetime | None = None
    headers: tuple[HeaderCondition, ...] | None = None
    """Files whose stored FITS header values meet every condition (``ls --where``)."""


@dataclass(frozen=True, slots=True)
class StateTotals:
    """Count and bytes (of known sizes) of the files in one state."""

    count: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One try at one file (append-only)."""

    file_id: int
    started_at: datetime
    finished_at: datetime
    outcome: str
    """``downloaded``, ``failed``, ``abandoned``, ``released`` or ``expired``."""
    bytes: int = 0
    error_class: ErrorClass | None = None
    message: str | None = None
    sources: tuple[tuple[str, int], ...] = ()
    """Which URL served how many bytes (several when the transfer moved to a mirror)."""


@dataclass(frozen=True, slots=True)
class TransferOptions:
    """Knobs of a download run (the CLI options map one to one).

    Parameters
    ----------
    concurrency : int
        Most files in flight at once, over all hosts.
    max_per_host : int
        Ceiling of the adaptive concurrency window of each host (connections).
    segment_size : int
        Bytes per range request for large files.
    max_attempts : int
        Attempts per file before it is ABANDONED.
    lease_seconds : float
        How long a claim lasts without a heartbeat.
    verify_tls : bool
        Verify server certificates (on by default).
    connect_timeout, read_timeout : float
        Seconds before a connection or a silent read fails the attempt.
    retry_base_delay, retry_max_delay : float
        Exponential backoff (full jitter) between attempts: the first delay is drawn
        below ``retry_base_delay``, each later one below twice the previous bound, never
        above ``retry_max_delay``.
    credentials : tuple of (origin, authorization) pairs
        ``Authorization`` header values of configured sources, each sent only to its
        origin (``scheme://host[:port]``); never shown in ``repr``.
    max_wait : float
        Seconds a run waits at most: for its host's pause (``Retry-After``; a longer
        pause refuses the request), before a range resumed within its attempt, and for a
        file's next attempt. A file due later ends FAILED with its due time.
    min_speed, min_speed_time : float
        A body must bring ``min_speed`` bytes per second on average over each
        ``min_speed_time`` seconds, or its attempt fails as a read timeout (0: off).
    checkpoint_interval : float
        Seconds between checkpoints of a file in flight at most (fsync of its part file,
        then its durable ranges in the segment map); a checkpoint also comes every half
        segment, whichever is first. A kill costs a file about what it received since
        (one segment at most).
    fits_metadata : bool
        Check every FITS file structurally before promotion (it opens with astropy, and
        its CHECKSUM and DATASUM cards verify where present; a failure is ``integrity``)
        and store its headers in the catalog. On for MAST imports.
    """

    concurrency: int = 16
    max_per_host: int = 16
    segment_size: int = DEFAULT_SEGMENT_SIZE
    max_attempts: int = 5
    lease_seconds: float = 60.0
    verify_tls: bool = True
    connect_timeout: float = 30.0
    read_timeout: float = 60.0
    retry_base_delay: float = 1.0
    retry_max_delay: float = 300.0
    credentials: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    max_wait: float = MAX_PAUSE_SECONDS
    min_speed: float = DEFAULT_MIN_SPEED
    min_speed_time: float = DEFAULT_MIN_SPEED_TIME
    checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL
    fits_metadata: bool = False


@dataclass(frozen=True, slots=True)
class Failure:
    """A file that did not end DOWNLOADED in a run."""

    url: str
    error_class: str
    message: str
    abandoned: bool = False
    file_id: int | None = None
    """The catalog id, so that runs of several processes can merge their failures."""


@dataclass(slots=True)
class RunSummary:
    """What a download run did; rendered as the CLI's summary and ``--json`` object."""

    downloaded: int = 0
    failed: int = 0
    abandoned: int = 0
    bytes: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    failures: list[Failure] = field(default_factory=list)
    unfinished: dict[str, int] = field(default_factory=dict)
    """Files named to the run (a ``get``'s) that it left undone without failing them
    itself, by state in lower case: ``abandoned`` or ``failed`` in an earlier run (and
    not due within this one), ``downloading`` under another live process, or
    ``discovered`` (released by another process after this one looked)."""
    retries: dict[str, int] = field(default_factory=dict)
    """What the run repaired: failed attempts of files that it then DOWNLOADED, by error
    class (``server``, ``integrity``, ...). A file that ends FAILED or ABANDONED repaired
    nothing: its attempts are in the attempt log, not here."""
    integrity_refetched: int = 0
    """Times a file then DOWNLOADED had bytes that failed verification fetched again: by
    another attempt (also in ``retries`` as ``integrity``), or within the attempt, from
    the next source (also in ``sources_switched``) or from a single source after bytes
    from two sources did not make the file."""
    sources_switched: int = 0
    """Times a transfer moved on to a file's next source (a mirror) and went on there, for
    files that were then DOWNLOADED."""

    copied: int = 0
    """Copies made in further destinations from local verified copies (no network)."""

    @property
    def not_done(self) -> int:
        """Files that did not end downloaded: failed, abandoned or unfinished (exit 1)."""
        return self.failed + self.abandoned + sum(self.unfinished.values())

    def as_json(self) -> dict[str, object]:
        """Return the summary as a JSON-ready dict (``copied`` only when copies were made)."""
        copies = {"copied": self.copied} if self.copied else {}
        return {
            "downloaded": self.downloaded,
            "failed": self.failed,
            "abandoned": self.abandoned,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "interrupted": self.interrupted,
            "failures": [
                {"url": f.url, "error_class": f.error_class, "message": f.message}
                for f in self.failures
            ],
            "unfinished": dict(self.unfinished),
            "retries": dict(self.retries),
            "integrity_refetched": self.integrity_refetched,
            "sources_switched": self.sources_switched,
            **copies,
        }
