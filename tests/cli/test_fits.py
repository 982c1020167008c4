"""FITS through the command line: ``get``/``download --fits-metadata`` against Python's
HTTP server on loopback (files made with astropy), ``ls --where``/``--target`` and
``fits show``, on a real SQLite catalog."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.fitsfiles import fits_bytes, gzipped, serving, with_flipped_byte, with_wrong_datasum
from typer.testing import Result

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.model import FileSpec
from skyhaul.core.paths import part_name
from skyhaul.sim import SimThread

Invoke = Callable[..., Result]

GOOD = fits_bytes()
#: What the server holds: FITS good and bad, compressed, without checksums, not FITS.
SERVED = {
    "good.fits": GOOD,
    "plain.fits": fits_bytes(checksum=False, INSTRUME="MIRI", TARGNAME="M 42", EXPTIME=20.0),
    "packed.fits.gz": gzipped(fits_bytes(INSTRUME="NIRSPEC", TARGNAME="NGC 628")),
    "datasum.fits": with_wrong_datasum(GOOD),
    "checksum.fits": with_flipped_byte(GOOD, 500),
    "cut.fits": GOOD[: len(GOOD) - 3000],
    "page.fits": b"<html>the archive's error page</html>",
    "notes.txt": b"plain text, not checked",
}
PASSING = ["good.fits", "plain.fits", "packed.fits.gz", "notes.txt"]
FAILING = {
    "datasum.fits": "FITS DATASUM mismatch in HDU 2 (SCI)",
    "checksum.fits": "FITS CHECKSUM mismatch in HDU 0 (PRIMARY)",
    "cut.fits": "FITS file cut short",
    "page.fits": "not a FITS file",
}


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    served = tmp_path / "served"
    served.mkdir()
    for name, data in SERVED.items():
        (served / name).write_bytes(data)
    with serving(served) as base:
        yield base


def get(skyhaul: Invoke, base_url: str, *args: str, names: list[str] | None = None) -> Result:
    urls = [base_url + name for name in names or SERVED]
    return skyhaul("get", "-d", "files", "--max-attempts", "1", "--json", *args, *urls)


@pytest.fixture
def fetched(skyhaul: Invoke, base_url: str) -> Result:
    """Every served file fetched with ``--fits-metadata``."""
    return get(skyhaul, base_url, "--fits-metadata")


def ls_paths(skyhaul: Invoke, *args: str) -> list[str]:
    result = skyhaul("ls", "--json", *args)
    assert result.exit_code == 0, result.output
    return [row["path"] for row in json.loads(result.stdout)]


def test_get_with_fits_metadata_promotes_only_verified_fits(
    fetched: Result, tmp_path: Path, catalog: Catalog
) -> None:
    assert fetched.exit_code == 1, fetched.output
    summary = json.loads(fetched.stdout)
    assert (summary["downloaded"], summary["abandoned"]) == (len(PASSING), len(FAILING))
    failures = {f["url"].rsplit("/", 1)[1]: f for f in summary["failures"]}
    assert set(failures) == set(FAILING)
    for name, says in FAILING.items():
        assert failures[name]["error_class"] == "integrity"
        assert failures[name]["message"].startswith(says), failures[name]
        assert not (tmp_path / "files" / name).exists()
        assert not (tmp_path / "files" / part_name(name)).exists()
    for name in PASSING:
        assert (tmp_path / "files" / name).read_bytes() == SERVED[name]
    by_path = {r.path: r for r in catalog.list_files()}
    for name in ("good.fits", "plain.fits", "packed.fits.gz"):
        stored = catalog.file_headers(by_path[name].id)
        assert stored is not None and stored.headers is not None, name
    assert catalog.file_headers(by_path["notes.txt"].id) is None


def test_ls_filters_on_stored_header_values(skyhaul: Invoke, fetched: Result) -> None:
    assert ls_paths(skyhaul, "--where", "INSTRUME=nircam") == ["good.fits"]
    assert ls_paths(skyhaul, "--where", "instrume!=NIRCAM") == ["plain.fits", "packed.fits.gz"]
    assert ls_paths(skyhaul, "--target", "ngc*") == ["good.fits", "packed.fits.gz"]
    assert ls_paths(skyhaul, "--target", "ngc*", "--where", "DETECTOR=NRCA1") == [
        "good.fits",
        "packed.fits.gz",
    ]
    assert ls_paths(skyhaul, "--where", "EXPTIME<100", "--where", "EXPTIME>=20") == ["plain.fits"]
    assert ls_paths(skyhaul, "--where", "DATE-OBS=2022-06-03") == [
        "good.fits",
        "plain.fits",
        "packed.fits.gz",
    ]
    assert ls_paths(skyhaul, "--where", "DATE-OBS>2022-06-03") == []
    assert ls_paths(skyhaul, "--where", "RA_TARG>151", "--state", "downloaded") == [
        "good.fits",
        "plain.fits",
        "packed.fits.gz",
    ]
    table = skyhaul("ls", "--target", "M 42")
    assert table.exit_code == 0 and "plain.fits" in table.stdout and "good.fits" not in table.stdout


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("INSTRUME", "'INSTRUME' has no operator"),
        ("COLOUR=red", "unknown key 'COLOUR'; use one of TELESCOP, INSTRUME"),
        ("EXPTIME>=long", "'EXPTIME>=long': 'long' is not a number"),
        ("DATE-OBS<noon", "'noon' is not an ISO 8601 date or time"),
    ],
)
def test_a_bad_where_is_one_line_and_exit_2(
    skyhaul: Invoke, catalog: Catalog, where: str, says: str
) -> None:
    result = skyhaul("ls", "--where", where)
    assert result.exit_code == 2
    assert result.stderr.startswith("skyhaul: error: ") and says in result.stderr
    assert result.stderr.count("\n") == 1 and not result.stdout


def test_fits_show_prints_values_origin_and_cards(
    skyhaul: Invoke, fetched: Result, catalog: Catalog
) -> None:
    shown = skyhaul("fits", "show", "files/good.fits")
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("file 1  DOWNLOADED  ") and lines[0].endswith("files/good.fits")
    assert "INSTRUME  NIRCAM" in lines and "EXPTIME   1234.5" in lines
    assert "DETECTOR  NRCA1" in lines and "DATE-OBS  2022-06-03T12:30:00.250000+00:00" in lines
    assert "HDU 0 PRIMARY" in lines and "HDU 2 SCI" in lines
    assert "INSTRUME= 'NIRCAM'" in lines
    assert any(line.startswith("HISTORY made by the skyhaul tests") for line in lines)
    by_id = skyhaul("fits", "show", "1", "--json")
    assert by_id.exit_code == 0
    document = json.loads(by_id.stdout)
    assert document["values"]["TARGNAME"] == "NGC 3132"
    assert [hdu["name"] for hdu in document["hdus"]] == ["PRIMARY", "SCI"]
    assert document["origin"] is None


def test_fits_show_of_a_file_without_headers_says_so_and_exits_1(
    skyhaul: Invoke, fetched: Result, tmp_path: Path
) -> None:
    result = skyhaul("fits", "show", str(tmp_path / "files" / "notes.txt"))
    assert result.exit_code == 1
    assert "has no stored FITS headers" in result.stderr
    assert "INSTRUME  -" in result.stdout


@pytest.mark.parametrize(
    ("ref", "says"), [("99", "no file 99 in the catalog"), ("nope.fits", "is stored at")]
)
def test_fits_show_of_an_unknown_file_is_one_line_and_exit_2(
    skyhaul: Invoke, catalog: Catalog, ref: str, says: str
) -> None:
    result = skyhaul("fits", "show", ref)
    assert result.exit_code == 2
    assert says in result.stderr and result.stderr.count("\n") == 1


def test_fits_show_prints_the_origin_a_registration_gave(
    skyhaul: Invoke, catalog: Catalog, base_url: str, tmp_path: Path
) -> None:
    origin = {"obs": {"obsid": "87602", "target_name": "NGC-3132"}, "product": {"size": 1}}
    spec = FileSpec(base_url + "good.fits", "good.fits", origin=json.dumps(origin))
    catalog.register([spec], str(tmp_path / "files"), now=datetime.now(UTC))
    downloaded = skyhaul("download", "--fits-metadata", "--json")
    assert downloaded.exit_code == 0, downloaded.output
    document = json.loads(skyhaul("fits", "show", "files/good.fits", "--json").stdout)
    assert document["origin"] == origin
    assert document["values"]["INSTRUME"] == "NIRCAM"


def test_without_the_flag_nothing_is_checked_or_stored(
    skyhaul: Invoke, base_url: str, tmp_path: Path
) -> None:
    result = get(skyhaul, base_url, names=["datasum.fits", "good.fits"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "files" / "datasum.fits").read_bytes() == SERVED["datasum.fits"]
    assert ls_paths(skyhaul, "--where", "TELESCOP=JWST") == []
    assert skyhaul("fits", "show", "files/good.fits").exit_code == 1


def test_the_simulators_fits_files_pass_the_check(
    skyhaul: Invoke, manifest: Path, sim: SimThread
) -> None:
    result = skyhaul("get", "-i", str(manifest), "-d", "sim", "--fits-metadata", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["downloaded"] == len(sim.files)
    assert len(ls_paths(skyhaul, "--where", "TELESCOP=SOLO", "--limit", "0")) == len(sim.files)


def test_the_command_line_starts_without_astropy_or_numpy() -> None:
    code = (
        "import sys, skyhaul.cli.app\n"
        "print(sorted(m for m in ('astropy', 'numpy') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert shown.stdout.strip() == "[]"
