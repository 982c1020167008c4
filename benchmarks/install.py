"""Find the programs the benchmark needs, installing missing ones when allowed.

Rules:
- A program is looked up on ``PATH`` plus the sbin directories (Debian puts nginx there).
- Installing happens only when the harness runs as root and installing is allowed: one
  ``apt-get update``, then ``apt-get install -y`` of each candidate package in turn; Python
  packages go into the harness's own interpreter with pip. Every attempt is reported.
- A program that cannot be had is ``None``; callers skip what needs it.
"""

from __future__ import annotations

import compileall
import importlib.util
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.procs import capture, last_line

__all__ = ["Installer", "find_program"]

_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")
_APT_TIMEOUT = 900.0


def find_program(name: str) -> str | None:
    """Return the absolute path of an executable, searching ``PATH`` and the sbin dirs."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    return shutil.which(name, path=search)


@dataclass
class Installer:
    """Get programs and Python modules, installing them when allowed.

    Parameters
    ----------
    allowed : bool
        Install what is missing (effective only as root).
    say : callable
        Receives one line per installation attempt.
    """

    allowed: bool
    say: Callable[[str], None]
    notes: list[str] = field(default_factory=list)
    _apt_updated: bool = False

    @property
    def can_install(self) -> bool:
        """Whether installing is both allowed and possible (root)."""
        return self.allowed and os.geteuid() == 0

    def program(self, name: str, packages: Sequence[str]) -> str | None:
        """Return the path of ``name``, apt-installing one of ``packages`` if missing."""
        found = find_program(name)
        if found or not self.can_install or shutil.which("apt-get") is None:
            return found
        for package in packages:
            if self._apt_install(package) and (found := find_program(name)):
                self._note(f"installed {package} with apt-get (for {name})")
                return found
        self._note(f"could not install {name} (tried apt packages: {', '.join(packages)})")
        return None

    def module(self, name: str, requirement: str) -> bool:
        """Return whether ``name`` imports in this interpreter, pip-installing if missing."""
        if importlib.util.find_spec(name) is not None:
            return True
        if not self.can_install:
            return False
        self.say(f"installing {requirement} with pip ...")
        code, output = capture(
            [sys.executable, "-m", "pip", "install", "--quiet", requirement],
            timeout=_APT_TIMEOUT,
        )
        importlib.invalidate_caches()
        if code == 0 and importlib.util.find_spec(name) is not None:
            self._note(f"installed {requirement} with pip")
            return True
        self._note(f"could not pip install {requirement}: {last_line(output)}")
        return False

    def bytecode(self, package: Path, label: str | None = None) -> None:
        """Compile ``package``'s modules to ``__pycache__`` where that is not done yet.

        ``pip install`` does this at install time. An editable install relies on the
        first run to write the bytecode, and under ``PYTHONDONTWRITEBYTECODE`` (set in
        some sandboxes and CI images) no run ever does: every start would compile every
        module again, about 0.15 s that no installed peer pays. ``label`` names the
        package in the notes (default: its directory's name).
        """
        label = label or package.name
        stale = [
            source
            for source in package.rglob("*.py")
            if not Path(importlib.util.cache_from_source(str(source))).exists()
        ]
        if not stale:
            return
        if compileall.compile_dir(str(package), quiet=1):
            self._note(f"compiled the bytecode of {len(stale)} modules of {label}")
        else:
            self._note(f"could not compile the bytecode of {label}")

    def _apt_install(self, package: str) -> bool:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if not self._apt_updated:
            self.say("running apt-get update ...")
            code, output = capture(["apt-get", "update"], timeout=_APT_TIMEOUT)
            self._apt_updated = True
            if code != 0:
                self._note(f"apt-get update failed: {last_line(output)}")
        self.say(f"installing {package} with apt-get ...")
        code, output = capture(
            ["apt-get", "install", "-y", "--no-install-recommends", package],
            timeout=_APT_TIMEOUT,
            env=env,
        )
        if code != 0:
            self.say(f"  apt-get install {package} failed: {last_line(output)}")
        return code == 0

    def _note(self, line: str) -> None:
        self.notes.append(line)
        self.say(line)
