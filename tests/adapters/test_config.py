"""The configuration file: where it is found, its [sources.<name>] tables, its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyhaul.adapters.config import SkyhaulConfig, SourceConfig, load_config
from skyhaul.errors import ConfigError

SIM_TABLE = """\
[sources.sim1]
type = "sim"
url = "http://127.0.0.1:8080"
instrument = "EUV"
"""


def write(directory: Path, text: str, name: str = "skyhaul.toml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:")
    return message


# --- finding the file ----------------------------------------------------------------


def test_explicit_path_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "conf", SIM_TABLE, name="mine.toml")
    config = load_config(path, environ={})
    assert config.path == path
    assert config.sources == {
        "sim1": SourceConfig(
            name="sim1",
            type="sim",
            options={"url": "http://127.0.0.1:8080", "instrument": "EUV"},
            dest=(tmp_path / "conf" / "data" / "sim1").resolve(),
            base_dir=(tmp_path / "conf").resolve(),
            where=f"{path}: sources.sim1",
        )
    }


def test_explicit_path_wins_over_the_environment_and_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = write(tmp_path / "a", SIM_TABLE)
    from_env = write(tmp_path / "b", SIM_TABLE.replace("sim1", "env1"))
    write(tmp_path / "c", SIM_TABLE.replace("sim1", "cwd1"))
    monkeypatch.chdir(tmp_path / "c")
    config = load_config(explicit, environ={"SKYHAUL_CONFIG": str(from_env)})
    assert list(config.sources) == ["sim1"]


def test_environment_variable_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env = write(tmp_path / "b", SIM_TABLE.replace("sim1", "env1"))
    write(tmp_path / "c", SIM_TABLE.replace("sim1", "cwd1"))
    monkeypatch.chdir(tmp_path / "c")
    config = load_config(environ={"SKYHAUL_CONFIG": str(from_env)})
    assert config.path == from_env
    assert list(config.sources) == ["env1"]


def test_empty_environment_variable_falls_back_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, SIM_TABLE)
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={"SKYHAUL_CONFIG": ""})
    assert list(config.sources) == ["sim1"]


def test_environ_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env = write(tmp_path / "b", SIM_TABLE.replace("sim1", "env1"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SKYHAUL_CONFIG", str(from_env))
    assert list(load_config().sources) == ["env1"]


def test_skyhaul_toml_in_the_working_directory_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, SIM_TABLE)
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config.path == Path("skyhaul.toml")
    source = config.source("sim1")
    assert source.base_dir == tmp_path.resolve()
    assert source.dest == (tmp_path / "data" / "sim1").resolve()


def test_no_file_anywhere_is_an_empty_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config(environ={}) == SkyhaulConfig()


def test_a_directory_named_skyhaul_toml_is_not_a_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "skyhaul.toml").mkdir()
    monkeypatch.chdir(tmp_path)
    assert load_config(environ={}).path is None


@pytest.mark.parametrize("via", ["argument", "environment"])
def test_a_file_named_explicitly_must_exist(tmp_path: Path, via: str) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as caught:
        if via == "argument":
            load_config(missing, environ={})
        else:
            load_config(environ={"SKYHAUL_CONFIG": str(missing)})
    assert str(caught.value) == f"{missing}: configuration file not found"
    assert caught.value.exit_code == 2


# --- the file's content ----------------------------------------------------------------


def test_toml_syntax_error_keeps_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '[sources.a]\ntype = "sim"\nurl = http://x\n')
    message = error_of(path)
    assert "not valid TOML" in message
    assert "line 3" in message and "column" in message


def test_unknown_top_level_table_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, SIM_TABLE + '\n[source.typo]\ntype = "sim"\n')
    expected = f"{path}: unknown key 'source' (known: broker, executor, sources)"
    assert error_of(path) == expected


def test_broker_and_executor_are_read_beside_the_sources(tmp_path: Path) -> None:
    path = write(tmp_path, 'broker = "redis://b:6379/3"\nexecutor = "celery"\n' + SIM_TABLE)
    config = load_config(path, environ={})
    assert (config.broker, config.executor) == ("redis://b:6379/3", "celery")
    assert list(config.sources) == ["sim1"]
    assert (load_config(write(tmp_path / "b", SIM_TABLE), environ={}).executor) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('executor = "threads"', "executor = 'threads': not local or celery"),
        ("executor = 3", "executor = 3: not local or celery"),
        ('broker = "localhost"', "broker = 'localhost': not a URL (redis://HOST:PORT/DB)"),
    ],
)
def test_bad_broker_or_executor_is_one_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, line + "\n")
    assert error_of(path) == f"{path}: {message}"


def test_sources_must_be_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, 'sources = "sim"\n')
    assert "'sources' must be a table" in error_of(path)


def test_source_without_type_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[sources.lasco]\nurl = "http://x"\n')
    message = error_of(path)
    assert f"{path}: sources.lasco: 'type' is missing" in message


@pytest.mark.parametrize("text", ["type = 3", 'type = ""'])
def test_source_type_must_be_a_word(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, f"[sources.lasco]\n{text}\n")
    assert "'type' is missing" in error_of(path)


@pytest.mark.parametrize("name", ['"has space"', '"-dash-first"', '"slash/name"', '""'])
def test_bad_source_name_is_refused(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, f'[sources.{name}]\ntype = "sim"\n')
    assert "a source name uses letters, digits" in error_of(path)


def test_source_must_be_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, '[sources]\nlasco = "sim"\n')
    assert error_of(path) == f"{path}: sources.lasco: must be a table"


@pytest.mark.parametrize("dest", ["3", '""'])
def test_dest_must_be_a_path(tmp_path: Path, dest: str) -> None:
    path = write(tmp_path, f'[sources.a]\ntype = "sim"\ndest = {dest}\n')
    assert error_of(path) == f"{path}: sources.a: 'dest' must be a path"


def test_dest_is_relative_to_the_configuration_files_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        '[sources.default]\ntype = "sim"\n'
        '[sources.relative]\ntype = "sim"\ndest = "../archive/rel"\n'
        f'[sources.absolute]\ntype = "sim"\ndest = "{tmp_path / "abs"}"\n'
    )
    path = write(tmp_path / "etc", text)
    monkeypatch.chdir(tmp_path)  # not the configuration's directory
    config = load_config(Path("etc/skyhaul.toml"), environ={})
    assert config.source("default").dest == (tmp_path / "etc" / "data" / "default").resolve()
    assert config.source("relative").dest == (tmp_path / "archive" / "rel").resolve()
    assert config.source("absolute").dest == (tmp_path / "abs").resolve()
    assert all(s.dest.is_absolute() for s in config.sources.values())
    assert {s.base_dir for s in config.sources.values()} == {path.parent.resolve()}


def test_type_and_dest_are_not_options(tmp_path: Path) -> None:
    path = write(tmp_path, '[sources.a]\ntype = "manifest"\ndest = "x"\npath = "m.csv"\n')
    source = load_config(path, environ={}).source("a")
    assert source.type == "manifest"
    assert dict(source.options) == {"path": "m.csv"}


def test_file_without_sources_is_an_empty_list_of_sources(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing yet\n")
    config = load_config(path, environ={})
    assert config.path == path
    assert config.sources == {}


# --- SkyhaulConfig.source ----------------------------------------------------------------


def test_unknown_source_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, SIM_TABLE + '[sources.alpha]\ntype = "sim"\n')
    config = load_config(path, environ={})
    with pytest.raises(ConfigError) as caught:
        config.source("lasco")
    assert str(caught.value) == f"{path}: no source named 'lasco' (known: alpha, sim1)"


def test_unknown_source_in_a_file_without_sources_says_none(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), environ={})
    with pytest.raises(ConfigError, match=r"\(known: none\)"):
        config.source("lasco")


def test_unknown_source_without_a_file_says_how_to_give_one() -> None:
    with pytest.raises(ConfigError) as caught:
        SkyhaulConfig().source("lasco")
    message = str(caught.value)
    assert "no configuration file found" in message
    assert "--config" in message and "SKYHAUL_CONFIG" in message and "skyhaul.toml" in message
