"""Which clients and which server this machine has, with their versions.

Rules:
- Each tool is found (or, when allowed, installed: see ``install``) once per run; a tool
  that cannot be had is reported with the reason and its clients are skipped.
- skyhaul counts as available only when ``skyhaul --help`` succeeds, so a half-written
  command line shows up as "unavailable: <its error>" instead of failed runs.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.install import Installer
from benchmarks.procs import capture, last_line

__all__ = ["REPO", "SKYHAUL", "Tool", "find_tools", "is_skyhaul"]

REPO = Path(__file__).resolve().parent.parent
#: The current tree's tool; ``skyhaul@<commit>`` is another revision's (``compare.py``).
SKYHAUL = "skyhaul"

_APT_PACKAGES = {
    "curl": ("curl",),
    "wget": ("wget",),
    "aria2c": ("aria2",),
    "nginx": ("nginx-light", "nginx"),
}


@dataclass(frozen=True, slots=True)
class Tool:
    """A program the harness may run.

    Parameters
    ----------
    name : str
        ``curl``, ``wget``, ``aria2c``, ``nginx``, ``parfive``, ``aiohttp`` or ``skyhaul``.
    path : str or None
        Executable to run (the interpreter, for the Python peers); ``None``: unavailable.
    version : str
        One line, or why it is unavailable.
    env : mapping
        Variables set for it on top of the harness's environment (``PYTHONPATH`` for
        skyhaul at another revision); empty for every other tool.
    """

    name: str
    path: str | None
    version: str
    env: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def available(self) -> bool:
        """Whether the harness can run it."""
        return self.path is not None


def is_skyhaul(name: str) -> bool:
    """Whether tool ``name`` is skyhaul: the current tree's, or another revision's."""
    return name == SKYHAUL or name.startswith(f"{SKYHAUL}@")


def find_tools(installer: Installer) -> dict[str, Tool]:
    """Find every tool (installing what is missing when allowed), keyed by name."""
    tools = {name: _program(name, installer) for name in _APT_PACKAGES}
    for module, requirement in (("parfive", "parfive>=2.1"), ("aiohttp", "aiohttp>=3.9")):
        tools[module] = _python_module(module, requirement, installer)
    tools["skyhaul"] = _skyhaul()
    return tools


def _program(name: str, installer: Installer) -> Tool:
    path = installer.program(name, _APT_PACKAGES[name])
    if path is None:
        return Tool(name, None, "not installed")
    flag = "-v" if name == "nginx" else "--version"
    _, output = capture([path, flag])
    return Tool(name, path, _short_version(output))


def _python_module(module: str, requirement: str, installer: Installer) -> Tool:
    if not installer.module(module, requirement):
        return Tool(module, None, f"{module} does not import in {sys.executable}")
    return Tool(module, sys.executable, f"{module} {importlib.metadata.version(module)}")


def _skyhaul() -> Tool:
    script = Path(sys.executable).parent / "skyhaul"
    if not script.exists():
        return Tool("skyhaul", None, f"no {script} (pip install -e . first)")
    code, output = capture([str(script), "--help"], timeout=60)
    if code != 0:
        return Tool("skyhaul", None, f"`skyhaul --help` exits {code}: {last_line(output)}")
    return Tool("skyhaul", str(script), f"skyhaul {_skyhaul_version()}")


def _skyhaul_version() -> str:
    version = importlib.metadata.version("skyhaul")
    code, commit = capture(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    if code != 0:
        return version
    _, changes = capture(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"])
    dirty = " + uncommitted changes" if changes else ""
    return f"{version} (git {commit}{dirty})"


def _short_version(text: str) -> str:
    """The first line of ``--version`` up to the version number (``curl 7.88.1``)."""
    words = text.split("\n", 1)[0].split()
    for index, word in enumerate(words):
        if re.search(r"\d+\.\d+", word):
            return " ".join(words[: index + 1])
    return " ".join(words) or "(version unknown)"
