"""Every layer takes the mission metadata from its one declaration (core.metadata).

Two proofs: the layers name exactly the declared fields today, and fields added to the
declaration alone (in a subprocess that patches it, see ``metadata_probe.py``) reach the
model, the schema, the manifest reader, registration, the catalog's listings, ``skyhaul ls``,
the ``get -i`` help and the sim source.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from skyhaul.adapters.catalog.queries import ORDERABLE
from skyhaul.adapters.catalog.records import RECORD_COLUMNS
from skyhaul.adapters.catalog.register import FILLABLE
from skyhaul.adapters.catalog.schema import files
from skyhaul.adapters.catalog.types import UTCDateTime
from skyhaul.adapters.manifest import MANIFEST_COLUMNS
from skyhaul.core.metadata import METADATA_KINDS, METADATA_NAMES, MetadataKind
from skyhaul.core.model import FileRecord, FileSpec

PROBE = Path(__file__).with_name("metadata_probe.py")
ADDED = ["target", "exposure", "frames", "exposure_end"]


#: Keyword-only fields a class declares itself: not mission metadata.
OWN_KEYWORDS = {FileSpec: {"origin"}}


def _inherited(cls: type) -> tuple[str, ...]:
    own = OWN_KEYWORDS.get(cls, set())
    return tuple(f.name for f in dataclasses.fields(cls) if f.kw_only and f.name not in own)


def test_the_layers_name_exactly_the_declared_fields() -> None:
    assert _inherited(FileSpec) == _inherited(FileRecord) == METADATA_NAMES
    assert ("url", "path", "size", "checksum", "mirrors", *METADATA_NAMES) == MANIFEST_COLUMNS
    assert ("size", "checksum", *METADATA_NAMES, "remote_version") == FILLABLE
    assert set(METADATA_NAMES) <= ORDERABLE
    assert [c.name for c in RECORD_COLUMNS][-len(METADATA_NAMES) :] == list(METADATA_NAMES)
    columns = [c.name for c in files.columns]
    first = columns.index(METADATA_NAMES[0])
    assert tuple(columns[first : first + len(METADATA_NAMES)]) == METADATA_NAMES
    times = {n for n, kind in METADATA_KINDS.items() if kind is MetadataKind.TIME}
    assert {n for n in METADATA_NAMES if isinstance(files.c[n].type, UTCDateTime)} == times


def test_fields_added_to_the_declaration_reach_every_layer(db_url: str, tmp_path: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-W", "error", str(PROBE), db_url, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout)
    declared = [*METADATA_NAMES, *ADDED]
    assert report["declared"] == declared
    assert report["spec_fields"][: len(declared)] == declared
    assert report["record_fields"][: len(declared)] == declared
    assert report["columns"] == {
        "target": "Text",
        "exposure": "Float",
        "frames": "BigInteger",
        "exposure_end": "UTCDateTime",
    }
    assert report["manifest_columns"] == [*MANIFEST_COLUMNS, *ADDED]
    assert report["orderable"] == sorted(ADDED)

    full = {"target": "M31", "exposure": 12.5, "frames": 3}
    full["exposure_end"] = "2024-03-01T12:00:12+00:00"
    sparse = {"target": None, "exposure": 1.5, "frames": None, "exposure_end": None}
    assert report["specs"] == [full, sparse]
    assert report["manifest_error"] == "/bad.csv:2: frames 'many' is not a whole number"
    assert (report["register_new"], report["register_known"]) == (2, 2)
    # 1.fits was registered without its added values and learned them when registered again.
    assert report["records"] == [["1.fits", full], ["2.fits", sparse]]
    assert report["ls"] == [["1.fits", full], ["2.fits", sparse]]
    assert report["ls_keys"][0] == "id"
    assert report["ls_keys"][-len(declared) :] == declared
    assert report["get_help"].endswith(f"({', '.join([*MANIFEST_COLUMNS, *ADDED])}).")
    assert report["sim"] == {
        "target": "M42",
        "exposure": 2.0,
        "frames": 7,
        "exposure_end": "2024-03-01T12:00:02+00:00",
    }
