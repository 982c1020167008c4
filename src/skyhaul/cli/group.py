"""The command group: one place where errors become one line and an exit code.

Rules:
- Every error ends as one line on stderr, ``skyhaul: error: ...``, and an exit code that
  lives on the error type: ``SkyhaulError.exit_code`` (2 for what the user can fix, 130
  when interrupted); 2 for usage errors found by typer (unknown option, bad value);
  1 for anything unexpected, whose traceback is logged at DEBUG (shown with ``-v``).
- ``SkyhaulGroup.main`` does this for the console script and ``CliRunner`` alike, so tests
  see exactly what users see.
- Heavy commands that few runs need (the simulator) are imported only when named.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import Sequence
from typing import Any, ClassVar

import typer
import typer.main
from typer.core import TyperGroup

from skyhaul.cli.common import remove_log_handler
from skyhaul.errors import SkyhaulError

__all__ = ["SkyhaulGroup"]

logger = logging.getLogger("skyhaul.cli")


def _fail(message: str) -> None:
    """Write one error line on stderr (plain text: messages may hold brackets)."""
    line = " ".join(message.split())
    typer.echo(f"skyhaul: error: {line}", err=True)


class SkyhaulGroup(TyperGroup):
    """The command group: every error becomes one line and an exit code; some commands
    are imported only when used (``lazy_commands``: name to ``(module, attribute)``, the
    attribute a command function or a ``typer.Typer`` group)."""

    lazy_commands: ClassVar[dict[str, tuple[str, str]]] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        """Name every command, lazy ones included (when installed)."""
        names = super().list_commands(ctx)
        return names + [n for n in self.lazy_commands if n not in names and self._load(n)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """Return a command, importing a lazy one on first use."""
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> bool:
        """Import lazy command ``name`` into the group; False when its module is absent."""
        if name in self.commands:
            return True
        module_name, function_name = self.lazy_commands[name]
        if importlib.util.find_spec(module_name) is None:
            return False
        found = getattr(importlib.import_module(module_name), function_name)
        if isinstance(found, typer.Typer):  # a group with subcommands (``sim``)
            self.add_command(typer.main.get_command(found), name)
            return True
        single = typer.Typer(add_completion=False)
        single.command(name)(found)
        self.add_command(typer.main.get_command(single), name)
        return True

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; exit (or, not standalone, return) with its exit code."""
        try:
            code = self._run(args, prog_name, complete_var, windows_expand_args, **extra)
        finally:
            remove_log_handler()
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(
        self,
        args: Sequence[str] | None,
        prog_name: str | None,
        complete_var: str | None,
        windows_expand_args: bool,
        **extra: Any,
    ) -> int:
        try:
            result = super().main(
                args,
                prog_name or "skyhaul",
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except SkyhaulError as exc:
            _fail(exc.message)
            logger.debug("%s", type(exc).__name__, exc_info=True)
            return exc.exit_code
        except typer.TyperException as exc:
            return _usage_error(exc)
        except typer.Abort:
            _fail("aborted")
            return 1
        except KeyboardInterrupt:
            _fail("interrupted")
            return 130
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{where}{exc.strerror or exc}")
            logger.debug("%s", type(exc).__name__, exc_info=True)
            return 2
        except Exception as exc:
            _fail(f"unexpected {type(exc).__name__}: {exc} (run with -v for the traceback)")
            logger.debug("unexpected error", exc_info=True)
            return 1
        return result if isinstance(result, int) else 0


def _usage_error(exc: typer.TyperException) -> int:
    """Report a usage error found by typer in one line (help for a bare ``skyhaul``)."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        help_text = exc.format_message()
        if help_text:  # empty when rich already printed the help
            typer.echo(help_text, err=True)
        return 2
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "skyhaul"
    hint = f" (see '{command} --help')" if ctx is not None else ""
    _fail(f"{exc.format_message()}{hint}")
    return 2
