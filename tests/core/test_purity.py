"""The core is pure: importing it pulls in no third-party module and no asyncio."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import skyhaul.core

CORE_MODULES = sorted(
    f"skyhaul.core.{info.name}" for info in pkgutil.iter_modules(skyhaul.core.__path__)
)

PROBE = """
import importlib, json, sys
before = set(sys.modules)
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
new = sorted(set(sys.modules) - before)
print(json.dumps(new))
"""


def imported_by(modules: list[str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(modules)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    names: list[str] = json.loads(result.stdout)
    return names


def is_foreign(name: str) -> bool:
    top = name.split(".")[0]
    return top != "skyhaul" and top not in sys.stdlib_module_names


def test_core_has_the_expected_modules() -> None:
    expected = {
        "retry",
        "ratecontrol",
        "ranges",
        "progress",
        "integrity",
        "units",
        "redact",
        "paths",
    }
    expected |= {"lifecycle", "errorclass", "model"}
    assert expected <= {name.rsplit(".", 1)[1] for name in CORE_MODULES}


def test_importing_the_core_pulls_in_no_third_party_module_and_no_asyncio() -> None:
    new = imported_by([*CORE_MODULES, "skyhaul.errors"])
    assert "skyhaul.core.ratecontrol" in new, "the probe really imported the core"
    assert [name for name in new if is_foreign(name)] == []
    assert [name for name in new if name.split(".")[0] == "asyncio"] == []


def test_the_probe_would_notice_a_foreign_import() -> None:
    # Guard against a probe that can never fail: asyncio and a third-party package
    # imported the same way are seen.
    new = imported_by(["asyncio", "_pytest"])
    assert "asyncio" in new
    assert any(is_foreign(name) for name in new)
