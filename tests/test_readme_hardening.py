"""The README's promises of issue 13 (hardening) say what the code does.

Each test pins one documented default, cap or word to the constant that makes it, so
that changing one without the other fails here.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from skyhaul.adapters.http import MAX_ANSWER
from skyhaul.adapters.http.errors import LONGEST_RETRY_AFTER
from skyhaul.core import ratecontrol, retry
from skyhaul.core.model import RunSummary, TransferOptions
from skyhaul.core.paths import MAX_FILE_NAME_BYTES, MAX_NAME_BYTES, PART_SUFFIX
from skyhaul.core.specs import MAX_PATH_BYTES
from skyhaul.core.units import LONGEST_DURATION, MAX_SIZE
from skyhaul.services.watch import WATCH_FAILING_CYCLES

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def readme() -> str:
    # One line per paragraph: promises are wrapped at any word.
    return re.sub(r"\s*\n\s*", " ", README.read_text(encoding="utf-8"))


def _row(readme: str, first_cell: str) -> str:
    """The README table row whose first cell starts with ``first_cell``."""
    found = re.search(r"\| " + re.escape(first_cell) + r"[^|]*\|[^|]*\|[^|]*\|", readme)
    assert found, f"no table row starting {first_cell!r}"
    return found.group(0)


def test_transfer_defaults(readme: str) -> None:
    defaults = TransferOptions()
    assert (defaults.connect_timeout, defaults.read_timeout) == (30.0, 60.0)
    assert "`--timeout` (default 30 s to connect, 60 s between reads)" in readme
    assert (defaults.min_speed, defaults.min_speed_time) == (1024, 60.0)
    assert "`--min-speed` and `--min-speed-time` (1 KiB/s over 60 s)" in readme
    assert defaults.max_wait == ratecontrol.MAX_PAUSE_SECONDS == 600.0
    assert "`--max-wait` (10 min)" in readme
    assert defaults.lease_seconds == 60.0
    assert "`--lease` (60 s)" in readme
    assert defaults.max_attempts == 5
    assert "`--max-attempts` (default 5)" in readme


def test_limits_table(readme: str) -> None:
    assert MAX_ANSWER == 256 * 2**20
    assert "256 MiB" in _row(readme, "One listing page")
    assert LONGEST_RETRY_AFTER == 365 * 86400
    assert "1 year" in _row(readme, "`Retry-After` taken as given")
    assert retry.QUICK_ATTEMPTS == 3
    # 3 attempts, full jitter from QUICK_DELAY doubling: at most 0.5 + 1.0 s of waits.
    assert retry.QUICK_DELAY + 2 * retry.QUICK_DELAY == 1.5
    assert "3, within about 1.5 s" in _row(readme, "Attempts for a host name")
    assert LONGEST_DURATION == 36525 * 86400
    assert "100 years" in _row(readme, "A duration given")


def test_random_faults_rule(readme: str) -> None:
    assert ratecontrol.CONGESTED_SHARE == 0.25
    assert ratecontrol.RECENT_ANSWERS == 32
    assert ratecontrol.CONGESTED_AT_LEAST == 4
    assert "at least 25% of the host's last 32 answers, and at least 4 of them" in readme
    assert retry.FIRST_RETRY == 0.25
    assert "comes within 0.25 s (jittered)" in readme
    assert retry.SOON_RETRIES == 2 and "a second such retry within 0.5 s" in readme


def test_watch_failing_cycles(readme: str) -> None:
    assert WATCH_FAILING_CYCLES == 3
    assert "its last 3 completed cycles all failed" in _row(readme, "`watch`")
    assert "when its last 3 completed cycles all failed" in readme


def test_storage_names_and_manifest_caps(readme: str) -> None:
    assert PART_SUFFIX == ".skyhaul.part"
    assert "`<final>.skyhaul.part`" in readme
    assert (MAX_NAME_BYTES, MAX_FILE_NAME_BYTES, MAX_PATH_BYTES) == (255, 242, 4095)
    assert "each directory's name at most 255 bytes of UTF-8, the file's" in readme
    assert "own name at most 242 (its part file's name, 13 bytes longer" in readme
    assert "the whole at most 4,095" in readme
    assert MAX_SIZE == 2**63 - 1
    assert "below 2^63" in readme
    assert csv.field_size_limit() == 128 * 1024
    assert "a CSV field over 128 KiB" in readme


def test_summary_keys_are_documented(readme: str) -> None:
    keys = set(RunSummary(copied=1).as_json())
    for key in keys:
        assert f'"{key}"' in readme or f"`{key}`" in readme, key


def test_no_catalog_message(readme: str) -> None:
    from skyhaul.cli import common

    source = Path(common.__file__).read_text(encoding="utf-8")
    hint = "(create one with skyhaul get or skyhaul discover)"
    assert hint in source
    assert "skyhaul: error: no catalog at /abs/path/skyhaul.db " + hint in readme
