"""What a simulator serves and how: the archive spec, the MAST dataset, the cache
directory, the faults.

Rules:
- ``SimConfig`` is an immutable value; only the knobs change while a server runs, and
  they are replaced whole (see :meth:`skyhaul.sim.server.RunningSim.set_faults` and
  :meth:`skyhaul.sim.mast.handle.RunningMast.set_knobs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from skyhaul.sim.archive import ArchiveSpec
from skyhaul.sim.cache import default_root
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.mast.knobs import MastKnobs
from skyhaul.sim.mast.spec import MastSpec


@dataclass(frozen=True)
class SimConfig:
    """Configuration of one simulated archive server."""

    archive: ArchiveSpec = field(default_factory=ArchiveSpec)
    """The files to serve (default: the ``demo`` profile, about 200 FITS files)."""

    root: Path | None = None
    """Cache directory for the materialised files; None: :func:`default_root`."""

    faults: FaultConfig = field(default_factory=FaultConfig)
    """Fault knobs in force at start (all off by default)."""

    mast: MastSpec = field(default_factory=MastSpec)
    """The simulated MAST's dataset (default: a dozen observations, about 30 MiB, made
    on disk as products are first asked for)."""

    mast_knobs: MastKnobs = field(default_factory=MastKnobs)
    """The simulated MAST's knobs in force at start (all off by default)."""

    @property
    def cache_root(self) -> Path:
        """The cache directory actually used."""
        return Path(self.root) if self.root is not None else default_root()
