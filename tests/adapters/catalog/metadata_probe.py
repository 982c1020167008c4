"""Add fields to the mission metadata declaration, then report what every layer makes of them.

Run by ``test_metadata_layers.py`` as ``python metadata_probe.py CATALOG_URL WORKDIR``; prints
one JSON object. The declaration's source is patched before anything imports it, as if a
developer had added the fields there and nowhere else: a layer that lists the fields by
hand does not see them, and the test fails.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: The fields added (one of each kind the declaration knows), as they would be written.
ADDED = {"target": "str", "exposure": "float", "frames": "int", "exposure_end": "datetime"}

NOW = datetime(2024, 5, 1, tzinfo=UTC)


def patch_declaration() -> None:
    """Load ``skyhaul.core.metadata`` with ``ADDED`` appended to ``MissionMetadata``."""
    spec = importlib.util.find_spec("skyhaul.core.metadata")
    assert spec is not None and spec.origin is not None
    source = Path(spec.origin).read_text(encoding="utf-8")
    [declaration] = [
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.ClassDef) and node.name == "MissionMetadata"
    ]
    assert declaration.end_lineno is not None
    lines = source.splitlines(keepends=True)
    added = "".join(f"    {name}: {kind} | None = None\n" for name, kind in ADDED.items())
    patched = "".join([*lines[: declaration.end_lineno], added, *lines[declaration.end_lineno :]])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    exec(compile(patched, spec.origin, "exec"), module.__dict__)


def added_values(item: Any) -> dict[str, Any]:
    """The added fields of a spec or record, JSON-ready."""
    values = {name: getattr(item, name) for name in ADDED}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


class Listing:
    """A listing client answering every request with one simulator-style entry."""

    async def get_json(self, url: str) -> object:
        entry = {"url": "https://sim.example/s.fits", "path": "s.fits", "target": "M42"}
        return [entry | {"exposure": 2, "frames": "7", "exposure_end": "2024-03-01T12:00:02Z"}]

    async def aclose(self) -> None:
        pass


def main(catalog_url: str, workdir: Path) -> dict[str, Any]:
    patch_declaration()
    from typer.main import get_command
    from typer.testing import CliRunner

    from skyhaul.adapters.catalog import open_catalog
    from skyhaul.adapters.catalog.queries import ORDERABLE
    from skyhaul.adapters.catalog.schema import files
    from skyhaul.adapters.manifest import MANIFEST_COLUMNS, read_specs
    from skyhaul.adapters.sources.base import ListingQuery
    from skyhaul.adapters.sources.sim import SimSource
    from skyhaul.cli.app import app
    from skyhaul.core.metadata import METADATA_NAMES
    from skyhaul.core.model import FileRecord, FileSpec
    from skyhaul.core.window import TimeWindow
    from skyhaul.errors import ManifestError

    report: dict[str, Any] = {"declared": list(METADATA_NAMES)}
    report["spec_fields"] = [f.name for f in dataclasses.fields(FileSpec)]
    report["record_fields"] = [f.name for f in dataclasses.fields(FileRecord)]
    report["columns"] = {c.name: type(c.type).__name__ for c in files.columns if c.name in ADDED}
    report["manifest_columns"] = list(MANIFEST_COLUMNS)
    report["orderable"] = sorted(ORDERABLE & set(ADDED))

    manifest = workdir / "manifest.csv"
    manifest.write_text(
        "url,path,instrument,obs_start,target,exposure,frames,exposure_end\n"
        "https://a.example/1.fits,1.fits,EUI,2024-03-01T12:00Z,M31,12.5,3,2024-03-01T12:00:12Z\n"
        "https://a.example/2.fits,2.fits,EUI,2024-03-01T13:00Z,,1.5,,\n",
        encoding="utf-8",
    )
    specs = read_specs(manifest)
    report["specs"] = [added_values(spec) for spec in specs]
    bad = workdir / "bad.csv"
    bad.write_text("url,frames\nhttps://a.example/3.fits,many\n", encoding="utf-8")
    try:
        read_specs(bad)
    except ManifestError as exc:
        report["manifest_error"] = exc.message.removeprefix(str(workdir))

    catalog = open_catalog(catalog_url)
    try:
        # New rows first (the first without its added values), then the known row learns them.
        unknown = dataclasses.replace(specs[0], **dict.fromkeys(ADDED))
        report["register_new"] = catalog.register([unknown, specs[1]], "/data", now=NOW).new
        report["register_known"] = catalog.register(specs, "/data", now=NOW).known
        records = catalog.list_files(order="-exposure")
        report["records"] = [(r.path, added_values(r)) for r in records]
    finally:
        catalog.close()

    ls = ["ls", "--json", "--catalog", catalog_url, "--order=-exposure"]
    listed = CliRunner().invoke(app, ls)
    assert listed.exit_code == 0, listed.output
    documents = json.loads(listed.stdout)
    report["ls_keys"] = list(documents[0])
    report["ls"] = [(d["path"], {name: d[name] for name in ADDED}) for d in documents]

    command = get_command(app).commands["get"]  # type: ignore[attr-defined]
    report["get_help"] = next(p.help for p in command.params if p.name == "input_file")

    source = SimSource("sim", "https://sim.example", Listing())  # type: ignore[arg-type]
    window = TimeWindow(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
    [spec] = asyncio.run(source.list_files(ListingQuery(window)))
    report["sim"] = added_values(spec)
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], Path(sys.argv[2]))))
