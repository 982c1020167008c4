"""What the simulated MAST holds: the dataset's seed and profile, as one immutable value.

Rules:
- Equal specs give byte-identical datasets (metadata and product bytes) on every machine.
- The ``default`` profile is a dozen observations (JWST, HST, TESS) of 3 to 30 products,
  about 30 MiB; the ``bench`` profile adds one observation of 200 products, 2 GiB in
  all, for benchmarks. Products are made on disk only when first asked for (a download,
  an S3 upload, :meth:`skyhaul.sim.mast.handle.RunningMast.files`), never at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from skyhaul.errors import ConfigError

MAST_BUCKET = "stpubdata"
"""The S3 bucket MAST's cloud copies live in (us-east-1, public); the simulator's too."""

MAST_PROFILES = ("default", "bench")
"""Names of the dataset profiles (``skyhaul sim --mast-profile NAME``)."""


@dataclass(frozen=True)
class MastSpec:
    """The simulated MAST's dataset.

    Parameters
    ----------
    seed : int
        Seed of the product sizes and bytes (the catalog of observations is fixed).
    bench : bool
        Add the bench observation (200 products, 2 GiB in all).
    """

    seed: int = 0
    bench: bool = False

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ConfigError(f"the MAST dataset's seed must be >= 0, got {self.seed}")

    @property
    def profile(self) -> str:
        """The profile's name: ``default`` or ``bench``."""
        return "bench" if self.bench else "default"


def mast_profile(name: str, seed: int = 0) -> MastSpec:
    """Return the spec of the named profile.

    Parameters
    ----------
    name : str
        One of :data:`MAST_PROFILES`.
    seed : int, optional
        Seed of the product sizes and bytes.

    Returns
    -------
    MastSpec
        The spec.

    Raises
    ------
    skyhaul.errors.ConfigError
        If there is no such profile.
    """
    if name not in MAST_PROFILES:
        known = ", ".join(MAST_PROFILES)
        raise ConfigError(f"unknown MAST profile {name!r} (known: {known})")
    return MastSpec(seed=seed, bench=name == "bench")
