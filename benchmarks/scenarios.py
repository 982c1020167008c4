"""The transfer scenarios: what each fetches, with which clients, against which targets.

Rules:
- A transfer scenario is data: a dataset, the clients (one per tool, in run order), a
  timeout per run and a function that checks the issue's targets on the results.
- ``quick=True`` shrinks every dataset for a smoke run; targets are still checked, but
  only full-size numbers compare with the issue's.
- Each client's figure from the issue is kept next to it, so the tables show both.
- parfive runs twice wherever it runs: with its default splitting (``max_splits=5``, five
  ranged requests per file) and tuned for small files (``max_splits=1``); a target
  against parfive is stated against the faster of the two (issue 13, section 5).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from benchmarks import peers
from benchmarks.datasets import Dataset
from benchmarks.peers import PARFIVE_TUNED, Client
from benchmarks.results import (
    ClientResult,
    TargetCheck,
    check_all_ok,
    check_at_most,
    check_rate_ratio,
    check_wall_ratio,
    fastest,
)
from benchmarks.servers import LIMIT_BURST, LIMIT_RATE

__all__ = ["CatalogScenario", "TransferScenario", "catalog_scenario", "transfer_scenarios"]

KiB = 1 << 10
MiB = 1 << 20

Targets = Callable[["TransferScenario", Mapping[str, ClientResult]], list[TargetCheck]]


@dataclass(frozen=True, slots=True)
class TransferScenario:
    """Every client fetches the same dataset from the same server, in turn.

    Parameters
    ----------
    key, title : str
        ``a``, ``b``, ``b20`` or ``d``, and a one-line title.
    description : str
        What it measures.
    dataset : Dataset
        The files.
    clients : tuple of Client
        One per tool, in run order.
    checksums : bool
        skyhaul's manifest carries sha256 checksums (so skyhaul verifies them).
    timeout : float
        Seconds before a run is ended.
    settle : float
        Seconds to pause between runs (lets the rate limiter's bucket drain).
    references : dict
        The issue's figure per tool, in words.
    targets : callable
        ``(scenario, results by tool) -> checks``.
    """

    key: str
    title: str
    description: str
    dataset: Dataset
    clients: tuple[Client, ...]
    checksums: bool
    timeout: float
    targets: Targets
    settle: float = 0.0
    references: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CatalogScenario:
    """Scenario (c): ``benchmarks.bench_catalog.run(rows, url)`` on a fresh SQLite catalog.

    Parameters
    ----------
    rows : int
        Catalog size.
    timeout : float
        Seconds before the benchmark is ended.
    """

    key: str
    title: str
    description: str
    rows: int
    timeout: float

    def targets(
        self,
        claim_seconds: float | None,
        status_seconds: float | None,
        command_seconds: float | None,
    ) -> list[TargetCheck]:
        """Check a batch claim under 100 ms and status under 1 s (in-process and printed)."""
        return [
            check_at_most("claim a batch of 1,000 in under 100 ms", _ms(claim_seconds), 100, "ms"),
            check_at_most("status (catalog.status_summary) in under 1 s", status_seconds, 1, "s"),
            check_at_most(
                "`skyhaul status --json` printed, start-up included, in under 1 s",
                command_seconds,
                1,
                "s",
            ),
        ]


def transfer_scenarios(*, quick: bool) -> list[TransferScenario]:
    """Scenarios (a), (b), (b20) and (d), full size or shrunk for ``--quick``."""
    return [_large(quick), _many_small(quick), _many_more_small(quick), _rate_limited(quick)]


def catalog_scenario(*, quick: bool) -> CatalogScenario:
    """Scenario (c): claiming a batch of 1,000 and printing status on a large catalog."""
    rows = 100_000 if quick else 1_000_000
    return CatalogScenario(
        key="c",
        title=f"catalog of {rows:,} rows: claim a batch of 1,000, print status",
        description=(
            "How fast the catalog hands out work and sums itself up when it is large: "
            "the time to claim one batch of 1,000 files and to compute the per-state "
            "status, measured by benchmarks/bench_catalog.py."
        ),
        rows=rows,
        timeout=600 if quick else 3600,
    )


def _large(quick: bool) -> TransferScenario:
    """(a) Throughput on a few large files, with skyhaul verifying sha256 on the fly."""
    size = 64 * MiB if quick else 256 * MiB
    return TransferScenario(
        key="a",
        title=f"4 files of {size // MiB} MiB, sha256 verified",
        description=(
            "Raw throughput and CPU cost per byte on large files: skyhaul hashes every "
            "byte (sha256 in the manifest) while the peers only write; the harness checks "
            "every tool's files afterwards, outside the timing."
        ),
        dataset=Dataset("large", 4, size),
        clients=(
            peers.skyhaul(16),
            peers.curl(),
            peers.aria2c("-j4", "-x4", "-s4"),
            peers.aiohttp_loop(),
            peers.wget(),
            peers.parfive(16),
            peers.parfive(16, max_splits=1),
        ),
        checksums=True,
        timeout=300,
        references={
            "curl": "2.8 s (one after another)",
            "aria2c": "3.9 s",
            "aiohttp": "3.2 s",
        },
        targets=_targets_large,
    )


def _targets_large(
    scenario: TransferScenario, results: Mapping[str, ClientResult]
) -> list[TargetCheck]:
    sky = results.get("skyhaul")
    return [
        check_wall_ratio("no slower than aria2c", sky, "aria2c", results.get("aria2c"), limit=1.0),
        check_wall_ratio("within 1.15x curl's wall time", sky, "curl", results.get("curl"), 1.15),
        check_all_ok(
            "every file complete, checksums verified", sky, counted=lambda run: run.files_ok
        ),
    ]


def _many_small(quick: bool) -> TransferScenario:
    """(b) Per-file overhead: many small files, each recorded in skyhaul's catalog."""
    count = 200 if quick else 2000
    return TransferScenario(
        key="b",
        title=f"{count:,} files of 64 KiB",
        description=(
            "Per-file overhead: request latency, connection reuse and, for skyhaul, the "
            "catalog bookkeeping of every file (each must end DOWNLOADED in the catalog). "
            "parfive runs with its default splitting (max_splits=5: five ranged requests "
            "per 64 KiB file) and tuned for small files (max_splits=1); the 2x target is "
            "against the faster of the two. Two floors: a bare aiohttp loop (16 "
            "connections, uvloop), and that loop keeping what skyhaul promises of each "
            "file (part file, sha256, fsync, rename, directory fsync, a SQLite record per "
            "256 files)."
        ),
        dataset=Dataset("small", count, 64 * KiB),
        clients=_small_file_clients(),
        checksums=False,
        timeout=300,
        references={
            "aria2c": "0.89 s",
            "wget": "1.3 s",
            "parfive": "2.5 s",
            PARFIVE_TUNED: "1,634 files/s (skyhaul 1,959)",
        },
        targets=_targets_many_small,
    )


def _many_more_small(quick: bool) -> TransferScenario:
    """(b20) (b) at 20,000 files: start-up amortized, the per-file costs alone show."""
    count = 1000 if quick else 20_000
    return TransferScenario(
        key="b20",
        title=f"{count:,} files of 64 KiB",
        description=(
            "(b) ten times over: with start-up amortized, where skyhaul's per-file time "
            "goes (its `--json` seconds against the wall show the rest). Same clients as "
            "(b); every file must end DOWNLOADED in skyhaul's catalog."
        ),
        dataset=Dataset("small", count, 64 * KiB),
        clients=_small_file_clients(),
        checksums=False,
        timeout=900,
        targets=_targets_many_more_small,
    )


def _small_file_clients() -> tuple[Client, ...]:
    return (
        peers.skyhaul(16),
        peers.aria2c("-j16"),
        peers.parfive(16),
        peers.parfive(16, max_splits=1),
        peers.wget(),
        peers.curl(),
        peers.aiohttp_loop(16),
        peers.guarded_loop(16),
    )


def _parfive_target(results: Mapping[str, ClientResult], sky: ClientResult | None) -> TargetCheck:
    """At least 2x the files per second of the faster parfive (tuned or default)."""
    name, parfive = fastest(results, ("parfive", PARFIVE_TUNED))
    return check_rate_ratio(
        "at least 2x the faster parfive's files per second (max_splits=5 or 1)",
        sky,
        name,
        parfive,
        2.0,
    )


def _catalog_target(sky: ClientResult | None) -> TargetCheck:
    return check_all_ok(
        "every file recorded in the catalog (DOWNLOADED)",
        sky,
        counted=lambda run: run.catalog_downloaded,
    )


def _targets_many_small(
    scenario: TransferScenario, results: Mapping[str, ClientResult]
) -> list[TargetCheck]:
    sky = results.get("skyhaul")
    return [
        _parfive_target(results, sky),
        check_rate_ratio(
            "at least aria2c's files per second", sky, "aria2c", results.get("aria2c"), 1.0
        ),
        _catalog_target(sky),
    ]


def _targets_many_more_small(
    scenario: TransferScenario, results: Mapping[str, ClientResult]
) -> list[TargetCheck]:
    sky = results.get("skyhaul")
    return [_parfive_target(results, sky), _catalog_target(sky)]


def _rate_limited(quick: bool) -> TransferScenario:
    """(d) Politeness: a server allowing 20 requests/s (burst 5) that answers 429 beyond."""
    count = 45 if quick else 300
    ideal = (count - LIMIT_BURST) / LIMIT_RATE
    return TransferScenario(
        key="d",
        title=(
            f"{count} files of 8 KiB, server limit {LIMIT_RATE} requests/s, burst "
            f"{LIMIT_BURST}, 429 without Retry-After"
        ),
        description=(
            "Politeness under a rate limit that gives no hint (nginx limit_req): whether a "
            "client gets every file, how close it comes to the ideal "
            f"({count} - {LIMIT_BURST}) / {LIMIT_RATE} = {ideal:.2f} s, and what share of "
            "its requests the server refused."
        ),
        dataset=Dataset("tiny", count, 8 * KiB, location="limited"),
        clients=(
            peers.skyhaul(16),
            peers.parfive(16),
            peers.parfive(16, max_splits=1),
            peers.aria2c("-j16"),
            peers.wget(),
            peers.curl(),
        ),
        checksums=False,
        timeout=180,
        settle=1.0,
        references={
            "parfive": "0 of 300 files",
            "aria2c": "4 of 300 files",
            "wget": "5 of 300 files",
        },
        targets=_targets_rate_limited,
    )


def _targets_rate_limited(
    scenario: TransferScenario, results: Mapping[str, ClientResult]
) -> list[TargetCheck]:
    sky = results.get("skyhaul")
    count = scenario.dataset.count
    ideal = (count - LIMIT_BURST) / LIMIT_RATE
    return [
        check_all_ok(f"all {count} files with -j 16", sky, counted=lambda run: run.files_ok),
        check_at_most(
            f"at most 1.3x the ideal {ideal:.2f} s",
            None if sky is None else sky.wall,
            1.3 * ideal,
            "s",
            ours=sky,
        ),
        check_at_most(
            "at most 20% of requests refused",
            None if sky is None or sky.refused_share is None else 100 * sky.refused_share,
            20,
            "%",
            ours=sky,
        ),
    ]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1000 * seconds
