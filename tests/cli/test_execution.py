"""Where a job runs: ``--executor`` over ``SKYHAUL_EXECUTOR`` over ``skyhaul.toml`` over
``local`` (the broker alike), and a bad executor as one line, exit 2, nothing touched.
The celery paths themselves run against real workers in ``tests/worker/test_kinds.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.conftest import Invoke

from skyhaul.cli.execution import Execution
from skyhaul.errors import ConfigError, UsageError

TOML = 'executor = "celery"\nbroker = "redis://127.0.0.1:1/2"\n'
COMMANDS = [
    ["get", "https://archive.example/a.fits"],
    ["download"],
    ["mast", "import", "jw01177-o007_t004_miri_f1280w"],
]


def test_the_file_fills_what_options_and_environment_left_unset(tmp_path: Path) -> None:
    path = tmp_path / "skyhaul.toml"
    path.write_text(TOML)
    assert Execution().resolve(path) == Execution("celery", "redis://127.0.0.1:1/2")
    given = Execution(None, "redis://given:6379/0").resolve(path)
    assert given == Execution("celery", "redis://given:6379/0")
    path.write_text("")
    assert Execution().resolve(path) == Execution("local", None)


def test_local_given_never_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "skyhaul.toml"
    path.write_text('executor = "threads"\n')
    assert Execution("local").resolve(path) == Execution("local")
    with pytest.raises(ConfigError):
        Execution().resolve(path)
    with pytest.raises(UsageError, match="--executor threads: not local or celery"):
        Execution("threads").resolve(path)


def test_the_environment_beats_the_file(
    skyhaul: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # celery from the file would fail on its unreachable broker; local from the
    # environment runs here.
    (tmp_path / "skyhaul.toml").write_text(TOML)
    monkeypatch.setenv("SKYHAUL_EXECUTOR", "local")
    result = skyhaul("download")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize(
    ("toml", "option", "expected"),
    [
        ('executor = "threads"\n', [], "skyhaul.toml: executor = 'threads': not local or celery"),
        (TOML, ["--executor", "threads"], "--executor threads: not local or celery"),
    ],
    ids=["file", "option"],
)
def test_a_bad_executor_is_one_line_and_exit_2(
    skyhaul: Invoke,
    tmp_path: Path,
    command: list[str],
    toml: str,
    option: list[str],
    expected: str,
) -> None:
    (tmp_path / "skyhaul.toml").write_text(toml)
    result = skyhaul(*command, *option)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"skyhaul: error: {expected}"]
    assert not (tmp_path / "catalog.db").exists(), "bad input touched the catalog"


def test_an_unreachable_broker_is_one_line_naming_it_without_its_password(
    skyhaul: Invoke, tmp_path: Path
) -> None:
    url = "redis://:hunter2@127.0.0.1:1/0"
    result = skyhaul(
        "get", "https://archive.example/a.fits", "--executor", "celery", "--broker", url
    )
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    prefix = "skyhaul: error: cannot reach the broker redis://:REDACTED@127.0.0.1:1/0: "
    assert line.startswith(prefix)
    assert line.endswith("(job 1 stays queued)") and "hunter2" not in result.output


def test_workers_and_managers_read_the_broker_from_the_configuration_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from skyhaul.cli.execution import configured_broker

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SKYHAUL_CONFIG", raising=False)
    assert configured_broker(None) == "redis://127.0.0.1:6379/0"
    (tmp_path / "skyhaul.toml").write_text('broker = "redis://broker.example:6379/3"\n')
    assert configured_broker(None) == "redis://broker.example:6379/3"
    assert configured_broker("redis://given:6379/1") == "redis://given:6379/1"
