"""The app as a whole: help, shared option sets, and how errors become exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

import pytest
import typer
from typer.testing import Result

from skyhaul.cli.options import build_common, build_selection, with_options
from skyhaul.core.model import RunSummary
from skyhaul.errors import DiskFullError, InterruptedRun

Invoke = Callable[..., Result]


def test_bare_skyhaul_shows_help_and_exits_2(skyhaul: Invoke) -> None:
    result = skyhaul()
    assert result.exit_code == 2
    assert "Usage: skyhaul" in result.output


def test_help_lists_every_command(skyhaul: Invoke) -> None:
    result = skyhaul("--help")
    assert result.exit_code == 0
    for command in (
        "get",
        "download",
        "status",
        "ls",
        "recover-stale",
        "retry",
        "ignore",
        "unignore",
        "sim",
    ):
        assert f" {command} " in result.stdout


@pytest.mark.parametrize("command", ["download", "ls", "retry", "ignore", "unignore"])
def test_commands_that_select_files_share_the_filters(skyhaul: Invoke, command: str) -> None:
    result = skyhaul(command, "--help")
    assert result.exit_code == 0
    for option in ("--instrument", "--source", "--url-prefix", "--catalog", "--json"):
        assert option in result.stdout


@pytest.mark.parametrize("command", ["get", "download"])
def test_transfer_commands_take_the_transfer_options(skyhaul: Invoke, command: str) -> None:
    result = skyhaul(command, "--help")
    for option in (
        "--concurrency",
        "-j",
        "--max-per-host",
        "--segment-size",
        "--max-attempts",
        "--insecure",
        "--no-progress",
        "--verbose",
        "SKYHAUL_CATALOG",
    ):
        assert option in result.stdout


def test_option_sets_must_not_clash() -> None:
    def command(
        instrument: Annotated[str, typer.Option()] = "", *, selection: object, common: object
    ) -> None:
        del instrument, selection, common

    with pytest.raises(TypeError, match="instrument"):
        with_options(selection=build_selection, common=build_common)(command)


@pytest.mark.usefixtures("catalog")  # status reads a catalog; it never creates one
def test_an_unexpected_error_is_one_line_and_exit_1(
    skyhaul: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("skyhaul.adapters.catalog.Catalog.status_summary", broken)
    result = skyhaul("status")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "skyhaul: error: unexpected RuntimeError: boom second line (run with -v for the traceback)"
    ]
    verbose = skyhaul("status", "-v")
    assert verbose.exit_code == 1
    assert "Traceback" in verbose.stderr
    assert "broken" in verbose.stderr


def test_disk_full_stops_the_run_with_exit_2(
    skyhaul: Invoke, catalog_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def full(*args: object, **kwargs: object) -> RunSummary:
        raise DiskFullError("no space left on /data: every file stays resumable")

    monkeypatch.setattr("skyhaul.services.acquire.download", full)
    result = skyhaul("download")
    assert result.exit_code == 2
    assert result.stderr == ("skyhaul: error: no space left on /data: every file stays resumable\n")


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (RunSummary(downloaded=2), 0),
        (RunSummary(downloaded=1, failed=1), 1),
        (RunSummary(abandoned=1), 1),
        (RunSummary(downloaded=1, interrupted=True), 130),
    ],
)
def test_exit_code_of_a_run(
    skyhaul: Invoke,
    catalog_url: str,
    monkeypatch: pytest.MonkeyPatch,
    outcome: RunSummary,
    code: int,
) -> None:
    async def run(*args: object, **kwargs: object) -> RunSummary:
        return outcome

    monkeypatch.setattr("skyhaul.services.acquire.download", run)
    result = skyhaul("download", "--json")
    assert result.exit_code == code
    assert json.loads(result.stdout)["interrupted"] is outcome.interrupted


@pytest.mark.usefixtures("catalog")  # status reads a catalog; it never creates one
def test_error_types_carry_their_exit_code(
    skyhaul: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self: object) -> None:
        raise InterruptedRun("interrupted while reading the catalog")

    monkeypatch.setattr("skyhaul.adapters.catalog.Catalog.status_summary", interrupted)
    result = skyhaul("status")
    assert result.exit_code == 130
    assert result.stderr == "skyhaul: error: interrupted while reading the catalog\n"


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (["get"], "Catalog database URL [default: sqlite:///skyhaul.db]."),
        (["ls"], "Which time --start/--end apply to [default: observation]."),
        (["discover"], "Configuration file with [sources.<name>] tables [default:"),
        (["watch"], "List from this fixed time on each cycle [default: now - lookback]."),
        (["watch"], "Stop after N cycles [default: run until stopped]."),
        (["backfill"], "Where the day files go [default: the source's dest]."),
        (["backfill"], "Format of the day files [default: the source's format, else csv]."),
        (["discover"], "Where the new files will go [default: the source's dest]."),
    ],
)
def test_help_keeps_its_brackets(skyhaul: Invoke, command: list[str], shown: str) -> None:
    # Rich reads "[...]" as markup: unescaped, the bracketed words vanish from the help.
    result = skyhaul(*command, "--help")
    text = " ".join(result.stdout.replace("│", " ").split())
    assert shown in text
