"""``skyhaul sim``: the archive simulator, and ``skyhaul sim observatory`` beside it.

Rules:
- ``skyhaul sim [OPTIONS]`` serves the archive exactly as before (:mod:`skyhaul.cli.sim_cmd`
  is the group's callback, run when no subcommand is named).
- ``skyhaul sim observatory ...`` writes raw files (:mod:`skyhaul.cli.sim_observatory`);
  a server option given with it is a usage error, not silently ignored.
"""

from __future__ import annotations

import typer

from skyhaul.cli.sim_cmd import sim
from skyhaul.cli.sim_observatory import observatory

__all__ = ["sim_app"]

#: The ``sim`` command group (loaded lazily by the app).
sim_app = typer.Typer(name="sim", add_completion=False)
sim_app.callback(invoke_without_command=True)(sim)
sim_app.command("observatory")(observatory)
