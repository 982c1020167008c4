"""Describe the machine a benchmark ran on: CPU, cores, RAM, kernel, OS, Python, load."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Machine", "describe_machine", "load_average"]


@dataclass(frozen=True, slots=True)
class Machine:
    """What the results depend on, one line each."""

    cpu: str
    cores: int
    ram: str
    kernel: str
    system: str
    python: str
    shm: str

    def lines(self) -> list[tuple[str, str]]:
        """``(label, value)`` pairs in display order."""
        return [
            ("CPU", self.cpu),
            ("Cores", str(self.cores)),
            ("RAM", self.ram),
            ("Kernel", self.kernel),
            ("OS", self.system),
            ("Python", self.python),
            ("/dev/shm", self.shm),
        ]


def describe_machine() -> Machine:
    """Read the machine's description from /proc, /etc/os-release and the interpreter."""
    return Machine(
        cpu=_cpu_model(),
        cores=os.cpu_count() or 0,
        ram=_ram(),
        kernel=f"{platform.system()} {platform.release()} {platform.machine()}",
        system=_os_name(),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        shm=_shm(),
    )


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / (1 << 20):.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def _shm() -> str:
    try:
        stats = os.statvfs("/dev/shm")
    except OSError:
        return "missing"
    return f"tmpfs, {stats.f_blocks * stats.f_frsize / (1 << 30):.1f} GiB"
