"""The fixed part of the simulated MAST: targets and the observations planned on them.

Rules:
- Plain data, no logic: :mod:`skyhaul.sim.mast.dataset` turns these plans into
  observations and products. Names and coordinates are those of real targets (so a
  person recognises them); ids, times and products are made up.
- Targets are more than a degree apart, so a cone search of a fraction of a degree
  around one never finds another's observations.
- Each plan's product count is between 3 and 30; the first JWST plan holds the
  largest product of the default dataset and the first TESS plan the second largest.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MastTarget:
    """A named place on the sky that the name resolvers know.

    Parameters
    ----------
    name : str
        The name as observations give it (``target_name``).
    ra, dec : float
        ICRS position in degrees.
    canonical : str
        The name a resolver answers with (``canonicalName``).
    classification : str
        ``target_classification`` of its observations.
    aliases : tuple of str
        Other names the resolvers know it by.
    """

    name: str
    ra: float
    dec: float
    canonical: str
    classification: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObservationPlan:
    """One observation to put in the dataset (its products are made from it).

    Parameters
    ----------
    obs_id : str
        The mission's observation id.
    obsid : int
        MAST's product group id.
    collection : {"JWST", "HST", "TESS"}
        The mission (``obs_collection``).
    target : str
        Name of a :class:`MastTarget`.
    instrument_name : str
        ``instrument_name`` (the FITS ``INSTRUME`` is its part before ``/``).
    detector : str
        The FITS ``DETECTOR``.
    filters : str
        ``filters`` (and the FITS ``FILTER``).
    dataproduct_type : str
        ``image``, ``spectrum`` or ``timeseries``.
    start : str
        Start of the observation, ISO 8601 UTC.
    exptime : float
        Exposure time in seconds.
    products : int
        How many products it has (3 to 30).
    offset : tuple of float
        Pointing offset from the target in arcseconds (east, north).
    proposal_id, proposal_pi, title : str
        The proposal's id, its PI and the observation's title.
    """

    obs_id: str
    obsid: int
    collection: str
    target: str
    instrument_name: str
    detector: str
    filters: str
    dataproduct_type: str
    start: str
    exptime: float
    products: int
    offset: tuple[float, float]
    proposal_id: str
    proposal_pi: str
    title: str


TARGETS: tuple[MastTarget, ...] = (
    MastTarget("NGC 628", 24.173946, 15.783662, "M  74", "GALAXY;SPIRAL", ("M74", "M 74")),
    MastTarget("WASP-39", 217.326708, -3.444497, "WASP-39", "STAR;EXOPLANET HOST"),
    MastTarget("TRAPPIST-1", 346.622013, -5.041274, "TRAPPIST-1", "STAR;M DWARF"),
    MastTarget("M16", 274.7, -13.807, "M  16", "NEBULA;H II REGION", ("Eagle Nebula",)),
    MastTarget("M1", 83.633083, 22.0145, "M   1", "SUPERNOVA REMNANT", ("Crab Nebula",)),
    MastTarget("Pi Men", 84.291188, -80.469138, "* pi. Men", "STAR", ("TIC 261136679",)),
    MastTarget("L 98-59", 124.531756, -68.313, "L   98-59", "STAR", ("TIC 307210830",)),
)

BENCH_TARGET = MastTarget("COSMOS", 150.116321, 2.205830, "NAME COSMOS Field", "FIELD")

PLANS: tuple[ObservationPlan, ...] = (
    # JWST: the first holds the largest product (its i2d).
    ObservationPlan(
        "jw02727-o002_t062_nircam_clear-f277w", 87602727, "JWST", "NGC 628", "NIRCAM/IMAGE",
        "NRCALONG", "CLEAR;F277W", "image", "2023-01-08T10:12:31", 2748.6, 30, (4.2, -3.1),
        "2727", "Lee", "Spiral galaxies at 2 micron",
    ),
    ObservationPlan(
        "jw01366-o004_t001_nirspec_clear-prism", 87601366, "JWST", "WASP-39", "NIRSPEC/SLIT",
        "NRS1", "CLEAR;PRISM", "spectrum", "2022-07-10T14:20:05", 29304.3, 8, (0.0, 0.0),
        "1366", "Batalha", "Transiting exoplanet early release science",
    ),
    ObservationPlan(
        "jw01177-o007_t004_miri_f1280w", 87601177, "JWST", "TRAPPIST-1", "MIRI/IMAGE",
        "MIRIMAGE", "F1280W", "image", "2022-11-08T02:41:55", 13122.1, 6, (0.5, 0.3),
        "1177", "Greene", "TRAPPIST-1c thermal emission",
    ),
    ObservationPlan(
        "jw02739-o001_t001_nircam_clear-f090w", 87602739, "JWST", "M16", "NIRCAM/IMAGE",
        "NRCA1", "CLEAR;F090W", "image", "2022-07-30T21:05:40", 6399.2, 12, (-12.0, 8.5),
        "2739", "Pontoppidan", "Pillars of creation",
    ),
    # HST: the first holds the product whose HTTP body is corrupted.
    ObservationPlan(
        "IEPW01010", 24139001, "HST", "NGC 628", "WFC3/UVIS", "UVIS", "F555W", "image",
        "2019-10-21T06:33:12", 1100.0, 10, (-20.5, 11.0), "15654", "Lee",
        "PHANGS-HST: spiral galaxies",
    ),
    ObservationPlan(
        "JDBA02020", 24139002, "HST", "M16", "ACS/WFC", "WFC", "F658N", "image",
        "2014-09-04T11:02:44", 2400.0, 7, (30.0, -15.5), "13926", "Levay",
        "Eagle Nebula revisited",
    ),
    ObservationPlan(
        "OE9J03010", 24139003, "HST", "WASP-39", "STIS/CCD", "CCD", "G430L", "spectrum",
        "2013-02-08T03:14:15", 2688.0, 5, (0.0, 0.0), "12473", "Sing",
        "Hot Jupiter transmission spectra",
    ),
    ObservationPlan(
        "IDXY04040", 24139004, "HST", "M1", "WFC3/IR", "IR", "F160W", "image",
        "2016-03-12T18:44:03", 1211.7, 4, (5.0, 5.0), "14256", "Hester",
        "The Crab's synchrotron nebula",
    ),
    # TESS: the first holds the second largest product (its target pixel file).
    ObservationPlan(
        "tess2019140104343-s0012-0000000261136679-0144-s", 60261136, "TESS", "Pi Men",
        "Photometer", "CCD 3", "TESS", "timeseries", "2019-05-21T11:04:43", 2030400.0, 3,
        (0.0, 0.0), "G022198", "Huang", "Sector 12 two-minute cadence",
    ),
    ObservationPlan(
        "tess2018206045859-s0001-0000000261136679-0120-s", 60261137, "TESS", "Pi Men",
        "Photometer", "CCD 3", "TESS", "timeseries", "2018-07-25T19:00:27", 2335680.0, 4,
        (0.0, 0.0), "G011250", "Huang", "Sector 1 two-minute cadence",
    ),
    ObservationPlan(
        "tess2019112060037-s0011-0000000307210830-0143-s", 60307210, "TESS", "L 98-59",
        "Photometer", "CCD 2", "TESS", "timeseries", "2019-04-23T04:19:37", 2160000.0, 5,
        (0.0, 0.0), "G011180", "Kostov", "Sector 11 two-minute cadence",
    ),
    ObservationPlan(
        "tess2019140104343-s0012-0000000307210830-0144-s", 60307211, "TESS", "L 98-59",
        "Photometer", "CCD 2", "TESS", "timeseries", "2019-05-21T11:04:43", 2030400.0, 3,
        (0.0, 0.0), "G011180", "Kostov", "Sector 12 two-minute cadence",
    ),
)  # fmt: skip

BENCH_PLAN = ObservationPlan(
    "jw09999-o001_t001_nircam_clear-f150w", 87609999, "JWST", "COSMOS", "NIRCAM/IMAGE",
    "NRCA1", "CLEAR;F150W", "image", "2024-04-02T08:00:00", 9621.0, 200, (0.0, 0.0),
    "9999", "Bench", "skyhaul benchmark field (200 products, 2 GiB)",
)  # fmt: skip
