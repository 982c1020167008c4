"""A simulated observatory: instrument modules writing raw files into a source location.

Rules:
- Files land at ``{obs_unit}/{module}/[scan-N/]{obs_unit}_{module}_{index:06d}.dat``
  (``obs-001``, ``mod-1``; about a third in a ``scan-N`` subdirectory), so the scan
  pattern ``{obs_unit}/{instrument_module}/**`` finds them all.
- Each file is written under a hidden temporary name beside its final one
  (``.<name>.<random>.tmp``) and renamed when complete, so a scanner never sees half a
  file under a real name.
- File ``index`` goes to module ``index % modules`` of unit ``(index // modules) % units``:
  every unit gets files from every module, in turn. Its size (log-uniform between the
  smallest and largest size) and content are drawn from a generator seeded with
  ``(seed, index)``, so a file is the same whatever else was written.
- Indices are reserved in ``.observatory.json`` before files are written, so a rerun into
  the same directory continues the numbering and never writes a name again, even one
  the pipeline has since deleted.
- :meth:`Observatory.write` writes at once (tests); :meth:`Observatory.run` paces files
  at ``rate`` per second until a count, a duration or ``wait`` says stop. Time and
  waiting are parameters.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from skyhaul.core.rawfiles import RawFileEntry
from skyhaul.errors import ConfigError
from skyhaul.sim.cache import write_text_atomically

__all__ = ["STATE_FILE", "Observatory", "ObservatoryTotals"]

#: The hidden file keeping the next free index.
STATE_FILE = ".observatory.json"
_CHUNK = 1 << 20
_SUBDIR_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class ObservatoryTotals:
    """What a run wrote."""

    files: int
    bytes: int


class Observatory:
    """Raw instrument files written into ``directory``, at once or at a rate.

    Parameters
    ----------
    directory : Path
        The source location's directory (created if missing).
    rate : float
        Files per second for :meth:`run`.
    units : int
        Executed observation units the files are spread over.
    modules : int
        Instrument modules, each writing in turn.
    seed : int
        Seed of sizes, subdirectories and content.
    sizes : tuple of int
        Smallest and largest file size in bytes (equal: every file that size).

    Raises
    ------
    ConfigError
        A non-positive rate, fewer than one unit or module, or a bad size range.
    """

    def __init__(
        self,
        directory: Path,
        rate: float = 10.0,
        units: int = 5,
        modules: int = 4,
        seed: int = 0,
        sizes: tuple[int, int] = (1024, 256 * 1024),
    ) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ConfigError(f"--rate: must be a finite number of files per second, got {rate}")
        if units < 1:
            raise ConfigError(f"--units: must be at least 1, got {units}")
        if modules < 1:
            raise ConfigError(f"--modules: must be at least 1, got {modules}")
        smallest, largest = sizes
        if smallest < 1 or largest < smallest:
            raise ConfigError(
                f"--size: expected 1 <= smallest <= largest, got {smallest}-{largest}"
            )
        self.directory = directory
        self.rate = rate
        self.units = units
        self.modules = modules
        self.seed = seed
        self.sizes = (smallest, largest)

    def write(self, count: int) -> list[RawFileEntry]:
        """Write ``count`` files now; return them (path, size, sha256, unit, module)."""
        return [self._write_one(index) for index in self._reserve(count)]

    def run(
        self,
        *,
        count: int | None = None,
        duration: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
        on_file: Callable[[RawFileEntry], None] | None = None,
    ) -> ObservatoryTotals:
        """Write files at ``rate`` per second until ``count`` files, ``duration`` or stop.

        Parameters
        ----------
        count, duration : optional
            Stop after this many files, or before a file due this many seconds after
            the start; neither: run until ``wait`` says stop.
        clock : callable
            Monotonic seconds.
        wait : callable, optional
            ``wait(seconds)`` waits and returns True to stop (``threading.Event.wait``);
            default: sleep, never stop.
        on_file : callable, optional
            Called with each file written.
        """
        waiting = wait if wait is not None else threading.Event().wait
        start = clock()
        files = size = 0
        while count is None or files < count:
            due = files / self.rate
            if duration is not None and due >= duration:
                break
            if waiting(max(0.0, start + due - clock())):
                break
            [index] = self._reserve(1)
            entry = self._write_one(index)
            files += 1
            size += entry.size
            if on_file is not None:
                on_file(entry)
        return ObservatoryTotals(files, size)

    def _reserve(self, count: int) -> range:
        """Take the next ``count`` indices, recording the next free one first."""
        self.directory.mkdir(parents=True, exist_ok=True)
        state = self.directory / STATE_FILE
        try:
            first = int(json.loads(state.read_text())["next"])
        except FileNotFoundError:
            first = 0
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{state}: not the observatory's state file ({exc})") from None
        write_text_atomically(state, json.dumps({"next": first + count}))
        return range(first, first + count)

    def _write_one(self, index: int) -> RawFileEntry:
        module_index = index % self.modules
        unit = f"obs-{(index // self.modules) % self.units + 1:03d}"
        module = f"mod-{module_index + 1}"
        draw = random.Random(f"{self.seed}:{index}")
        smallest, largest = self.sizes
        size = round(math.exp(draw.uniform(math.log(smallest), math.log(largest))))
        size = min(max(size, smallest), largest)
        parts = [unit, module]
        if draw.random() < _SUBDIR_SHARE:
            parts.append(f"scan-{draw.randint(1, 3)}")
        parts.append(f"{unit}_{module}_{index:06d}.dat")
        relative = "/".join(parts)
        target = self.directory.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            with temp.open("wb") as out:
                left = size
                while left:
                    chunk = draw.randbytes(min(left, _CHUNK))
                    digest.update(chunk)
                    out.write(chunk)
                    left -= len(chunk)
            temp.replace(target)
        finally:
            temp.unlink(missing_ok=True)
        return RawFileEntry(relative, size, digest.hexdigest(), unit, module)
