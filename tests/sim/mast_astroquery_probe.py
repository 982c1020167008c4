"""Drive the real astroquery against a simulator's MAST; run by ``test_mast_astroquery``.

Usage: ``python mast_astroquery_probe.py SERVER DOWNLOAD_DIR``, with ``XDG_CONFIG_HOME``
holding ``astropy/astroquery.cfg`` (``[mast] server = SERVER``) and ``XDG_CACHE_HOME``
a fresh ``astropy`` directory, so nothing of the user's is read or written. Prints one
JSON object on stdout: what each call returned.

astroquery's portal URLs come from the config at import; its resolver and path lookup
use fixed hosts, rewritten here by patching ``astroquery.mast.utils._simple_request``,
as astroquery's own tests do.
"""

from __future__ import annotations

import json
import sys
import warnings

warnings.simplefilter("error")  # as the test suite runs: any warning fails the probe


def main(server: str, download_dir: str) -> None:
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astroquery import mast
    from astroquery.mast import Observations
    from astroquery.mast import utils as mast_utils

    if hasattr(mast.conf, "enable_cloud_dataset"):  # astroquery's main branch: HTTP only
        mast.conf.enable_cloud_dataset = False
    fixed_hosts = ("http://mastresolver.stsci.edu", "https://mast.stsci.edu")
    real_request = mast_utils._simple_request
    asked: list[str] = []

    def local_request(url: str, params: object = None) -> object:
        asked.append(url)
        for host in fixed_hosts:
            url = url.replace(host, server)
        return real_request(url, params)

    mast_utils._simple_request = local_request
    found = Observations.query_object("NGC 628", radius="0.05 deg")
    region = Observations.query_region(SkyCoord(274.7, -13.807, unit="deg"), radius=0.1 * u.deg)
    hst = Observations.query_criteria(obs_id="IEPW01010")
    jwst = Observations.query_criteria(obs_id="jw01177-o007_t004_miri_f1280w")
    count = Observations.query_criteria_count(obs_collection="TESS")
    products = Observations.get_product_list(hst)
    both = Observations.get_product_list([str(hst["obsid"][0]), str(jwst["obsid"][0])])
    manifest = Observations.download_products(
        both, download_dir=download_dir, cache=False, verbose=False
    )
    uris = [str(uri) for uri in products["dataURI"][:3]]  # drz, asn, a preview
    paths = mast_utils.mast_relative_path(uris, verbose=False)
    print(
        json.dumps(
            {
                "object": [str(x) for x in found["obs_id"]],
                "object_distance": [float(x) for x in found["distance"]],
                "region": [str(x) for x in region["obs_id"]],
                "criteria": [str(x) for x in hst["obs_id"]] + [str(x) for x in jwst["obs_id"]],
                "count": int(count),
                "products": [str(x) for x in products["dataURI"]],
                "both": [str(x) for x in both["dataURI"]],
                "manifest": [[str(row["Local Path"]), str(row["Status"])] for row in manifest],
                "paths": dict(zip(uris, paths, strict=True)),
                "fixed_hosts_asked": sorted({url.split("/")[2] for url in asked}),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
