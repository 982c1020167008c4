"""How many engine processes a download run uses, and how they share its limits.

Rules:
- One event loop does about 1,400 small files a second on one core; past that, a run of
  many small files is bound by Python CPU, not by the wire. Extra engine processes, each
  claiming from the same catalog (claims are compare-and-set), use the other cores.
- Automatic choice: one process unless the run has many files (``FILES_PER_PROCESS`` per
  process) that are small on average (``SMALL_MEAN_SIZE``; large files are bound by the
  network and by hashing, which already runs off the loop). Then one per core, at most
  ``MOST_PROCESSES``, and never so many that a process gets fewer than ``MIN_SLOTS``
  files in flight or connections per host.
- Limits are shared, not multiplied: ``-j`` and ``--max-per-host`` are split between the
  processes, so the archive sees the connections the user asked for, no more.
- An explicit count is honoured up to the limits it must share (one slot per process).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from skyhaul.core.model import Failure, RunSummary, TransferOptions

__all__ = [
    "FILES_PER_PROCESS",
    "MIN_SLOTS",
    "MOST_PROCESSES",
    "SMALL_MEAN_SIZE",
    "ProcessPlan",
    "merge_summaries",
    "plan_processes",
    "share",
    "share_options",
]

#: Files per process at least before a run forks: below it the start-up is not repaid.
FILES_PER_PROCESS = 500
#: Mean file size (bytes) at most for the automatic choice to fork.
SMALL_MEAN_SIZE = 4 * 2**20
#: Processes at most in the automatic choice.
MOST_PROCESSES = 4
#: Files in flight and connections per host that each process gets at least (automatic).
MIN_SLOTS = 4


@dataclass(frozen=True, slots=True)
class ProcessPlan:
    """The processes of a run and the reason for their number.

    Parameters
    ----------
    count : int
        Engine processes, the calling one included (1: no fork).
    reason : str
        Why, in a few words, for the log.
    """

    count: int
    reason: str


def plan_processes(
    requested: int | None,
    *,
    files: int,
    nbytes: int | None,
    concurrency: int,
    max_per_host: int,
    cores: int,
) -> ProcessPlan:
    """Choose the number of engine processes of a run.

    Parameters
    ----------
    requested : int or None
        ``--processes`` as given; None for the automatic choice.
    files, nbytes : int, int or None
        The files the run expects and their bytes (None when some sizes are unknown).
    concurrency, max_per_host : int
        The run's limits, shared by the processes.
    cores : int
        CPU cores this process may use.

    Returns
    -------
    ProcessPlan
    """
    ceiling = max(1, min(concurrency, max_per_host))
    if requested is not None:
        count = max(1, min(requested, ceiling))
        if count < requested:
            return ProcessPlan(count, f"{requested} asked, {count} to share -j {concurrency}")
        return ProcessPlan(count, "as asked")
    if cores < 2:
        return ProcessPlan(1, "one core")
    if files < 2 * FILES_PER_PROCESS:
        return ProcessPlan(1, f"{files} files")
    if nbytes is None or nbytes > SMALL_MEAN_SIZE * files:
        return ProcessPlan(1, "large or unknown sizes")
    count = min(
        cores,
        MOST_PROCESSES,
        files // FILES_PER_PROCESS,
        concurrency // MIN_SLOTS,
        max_per_host // MIN_SLOTS,
    )
    if count < 2:
        return ProcessPlan(1, f"-j {concurrency} too few to share")
    return ProcessPlan(count, f"{files} small files, {cores} cores")


def share(total: int, parts: int, index: int) -> int:
    """Return part ``index`` of ``total`` split into ``parts`` near-equal whole shares.

    The shares add up to ``total`` and differ by at most one; each is at least 1 (a
    process with no slot could do nothing).
    """
    if parts < 1 or not 0 <= index < parts:
        raise ValueError(f"no share {index} of {parts}")
    base, extra = divmod(total, parts)
    return max(1, base + (1 if index < extra else 0))


def share_options(options: TransferOptions, parts: int, index: int) -> TransferOptions:
    """Return process ``index``'s options: its share of ``-j`` and ``--max-per-host``."""
    if parts == 1:
        return options
    return replace(
        options,
        concurrency=share(options.concurrency, parts, index),
        max_per_host=share(options.max_per_host, parts, index),
    )


def merge_summaries(parts: Sequence[RunSummary], *, downloaded: Collection[int] = ()) -> RunSummary:
    """Combine the summaries of the processes of one run into the run's summary.

    Parameters
    ----------
    parts : sequence of RunSummary
        One per process, the caller's first.
    downloaded : collection of int
        Ids of files that some process reported failed and that are DOWNLOADED in the
        catalog now: another process retried them with success, so they are not failures.

    Returns
    -------
    RunSummary
        Counts, bytes and repairs (retries per class, mismatches fetched again, sources
        switched) added up, the longest ``seconds``, ``interrupted`` if any part was,
        and one failure per file (abandoned before failed: it is the later outcome).
    """
    merged = RunSummary()
    latest: dict[int | str, Failure] = {}
    for part in parts:
        merged.downloaded += part.downloaded
        merged.copied += part.copied
        merged.bytes += part.bytes
        for error_class, count in part.retries.items():
            merged.retries[error_class] = merged.retries.get(error_class, 0) + count
        merged.integrity_refetched += part.integrity_refetched
        merged.sources_switched += part.sources_switched
        merged.seconds = max(merged.seconds, part.seconds)
        merged.interrupted = merged.interrupted or part.interrupted
        for failure in part.failures:
            key: int | str = failure.file_id if failure.file_id is not None else failure.url
            if failure.file_id in downloaded:
                continue
            known = latest.get(key)
            if known is None or (failure.abandoned and not known.abandoned):
                latest[key] = failure
    merged.failures = list(latest.values())
    merged.abandoned = sum(1 for f in merged.failures if f.abandoned)
    merged.failed = len(merged.failures) - merged.abandoned
    return merged
