"""astroquery's own MAST download, as its users run it, for the MAST import benchmark (m).

Usage: ``python -m benchmarks.clients.astroquery_mast SERVER OBS_ID DIR [--cache]``, with
``XDG_CONFIG_HOME`` holding ``astropy/astroquery.cfg`` (``[mast] server = SERVER``) and
``XDG_CACHE_HOME`` a fresh ``astropy`` directory: astroquery reads its portal URLs from
that configuration when it is imported, so it talks to the simulator and touches nothing
of the user's.

It runs the three calls of astroquery's documented flow: ``query_criteria(obs_id=...)``,
``get_product_list`` and ``download_products`` (HTTP; the cloud is switched off where the
installed release has the switch). Without ``--cache`` it downloads everything again
(``cache=False``), as a first run does; with it, it keeps what is there (``cache=True``,
astroquery's default), as a user reruns it after an interruption. Prints one line: the
products and how many the manifest calls ``COMPLETE``. Exit 1 if any is not.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Run the flow; return the exit code."""
    server, obs_id, download_dir = argv[:3]
    cache = "--cache" in argv[3:]
    from astroquery import mast
    from astroquery.mast import Observations

    if hasattr(mast.conf, "enable_cloud_dataset"):
        mast.conf.enable_cloud_dataset = False
    observations = Observations.query_criteria(obs_id=obs_id)
    products = Observations.get_product_list(observations)
    manifest = Observations.download_products(
        products, download_dir=download_dir, cache=cache, verbose=False
    )
    complete = sum(1 for row in manifest if str(row["Status"]) == "COMPLETE")
    print(f"astroquery {server}: {len(products)} products, {complete} COMPLETE", flush=True)
    return 0 if complete == len(products) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
