"""Credentials: read from environment variables or files, never from the configuration text,
and never shown."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from skyhaul.adapters.credentials import Credentials, credentials_from_options
from skyhaul.errors import ConfigError

WHERE = "skyhaul.toml: sources.lasco"
SECRET = "s3cr3t-T0ken-value"


def read(
    options: dict[str, Any], base_dir: Path, environ: dict[str, str] | None = None
) -> Credentials:
    return credentials_from_options(options, where=WHERE, base_dir=base_dir, environ=environ or {})


def error_of(options: dict[str, Any], base_dir: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        read(options, base_dir, environ)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{WHERE}: ")
    assert SECRET not in message
    return message


def test_no_credential_keys_is_anonymous(tmp_path: Path) -> None:
    credentials = read({"url": "https://x.example", "instrument": "C2"}, tmp_path)
    assert credentials == Credentials()
    assert credentials.headers() == {}
    assert repr(credentials) == "Credentials(anonymous)"


def test_bearer_token_from_an_environment_variable(tmp_path: Path) -> None:
    credentials = read({"token_env": "LASCO_TOKEN"}, tmp_path, {"LASCO_TOKEN": f" {SECRET}\n"})
    assert credentials.headers() == {"Authorization": f"Bearer {SECRET}"}


def test_environ_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYHAUL_TEST_TOKEN", SECRET)
    credentials = credentials_from_options(
        {"token_env": "SKYHAUL_TEST_TOKEN"}, where=WHERE, base_dir=tmp_path
    )
    assert credentials.authorization == f"Bearer {SECRET}"


def test_bearer_token_from_a_file_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text(f"{SECRET}\n", encoding="utf-8")
    credentials = read({"token_file": "secrets/token"}, tmp_path)
    assert credentials.headers() == {"Authorization": f"Bearer {SECRET}"}


def test_bearer_token_from_an_absolute_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(SECRET, encoding="utf-8")
    credentials = read({"token_file": str(token_file)}, tmp_path / "elsewhere")
    assert credentials.authorization == f"Bearer {SECRET}"


def test_basic_auth_header_value_is_exact(tmp_path: Path) -> None:
    credentials = read(
        {"username": "alice", "password_env": "LASCO_PASSWORD"},
        tmp_path,
        {"LASCO_PASSWORD": "pa:ss wörd"},
    )
    expected = "Basic " + base64.b64encode("alice:pa:ss wörd".encode()).decode("ascii")
    assert credentials.headers() == {"Authorization": expected}
    assert expected == "Basic YWxpY2U6cGE6c3Mgd8O2cmQ="


def test_basic_auth_user_from_env_and_password_from_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("hunter2\n", encoding="utf-8")
    credentials = read(
        {"username_env": "LASCO_USER", "password_file": "pw"}, tmp_path, {"LASCO_USER": "bob"}
    )
    assert credentials.authorization == "Basic " + base64.b64encode(b"bob:hunter2").decode()


@pytest.mark.parametrize("key", ["token", "password", "secret", "api_key"])
def test_secret_written_inline_is_refused(tmp_path: Path, key: str) -> None:
    message = error_of({key: SECRET, "username": "alice"}, tmp_path)
    assert f"{key!r} must not be written in the configuration" in message
    assert f"{key}_env" in message and f"{key}_file" in message


def test_missing_variable_names_the_variable_not_a_value(tmp_path: Path) -> None:
    environ = {"OTHER": SECRET, "LASCO_TOKEN": "   "}
    for options in ({"token_env": "LASCO_TOKEN"}, {"token_env": "NOT_SET_ANYWHERE"}):
        message = error_of(options, tmp_path, environ)
        assert f"environment variable {options['token_env']} is not set" in message


def test_missing_password_variable_never_shows_the_user_password_pair(tmp_path: Path) -> None:
    message = error_of(
        {"username": "alice", "password_env": "LASCO_PASSWORD"}, tmp_path, {"X": SECRET}
    )
    assert "LASCO_PASSWORD is not set" in message


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-token"
    message = error_of({"token_file": "no-such-token"}, tmp_path)
    assert f"cannot read {missing}" in message


@pytest.mark.parametrize("content", ["", "  \n\n"])
def test_empty_file_is_refused(tmp_path: Path, content: str) -> None:
    (tmp_path / "token").write_text(content, encoding="utf-8")
    message = error_of({"token_file": "token"}, tmp_path)
    assert message == f"{WHERE}: {tmp_path / 'token'} is empty"


@pytest.mark.parametrize(
    "options",
    [
        {"token_env": "T", "username": "alice", "password_env": "P"},
        {"token_env": "T", "password_env": "P"},
        {"token_env": "T", "username": "alice"},
    ],
)
def test_token_and_user_password_together_are_refused(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    message = error_of(options, tmp_path, {"T": SECRET, "P": SECRET})
    assert "either a token or a username and password, not both" in message


def test_both_env_and_file_for_one_secret_are_refused(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(SECRET, encoding="utf-8")
    message = error_of({"token_env": "T", "token_file": "token"}, tmp_path, {"T": SECRET})
    assert "give token_env or token_file, not both" in message


def test_user_without_password_and_password_without_user_are_refused(tmp_path: Path) -> None:
    message = error_of({"username": "alice"}, tmp_path)
    assert "password_env or password_file is missing" in message
    message = error_of({"password_env": "P"}, tmp_path, {"P": SECRET})
    assert "username is missing" in message


def test_repr_and_str_never_show_the_secret(tmp_path: Path) -> None:
    credentials = read({"token_env": "T"}, tmp_path, {"T": SECRET})
    assert repr(credentials) == "Credentials(REDACTED)"
    assert SECRET not in str(credentials)
    assert SECRET not in f"{credentials!r} {[credentials]} { ({'c': credentials}) }"
    basic = read({"username": "alice", "password_env": "P"}, tmp_path, {"P": SECRET})
    encoded = basic.authorization
    assert encoded is not None
    assert encoded not in repr(basic) and SECRET not in repr(basic)


@pytest.mark.parametrize("bad", ["\x01", "\n", "\r\nX-Injected: 1", "\x7f", "é"])
def test_a_token_an_http_header_cannot_carry_is_refused(tmp_path: Path, bad: str) -> None:
    environ = {"LASCO_TOKEN": f"abc{bad}def"}
    assert error_of({"token_env": "LASCO_TOKEN"}, tmp_path, environ) == (
        f"{WHERE}: the token in environment variable LASCO_TOKEN has a control or non-ASCII"
        " character, which an HTTP header cannot carry"
    )
    (tmp_path / "token").write_text(f"abc{bad}def\n")
    assert error_of({"token_file": "token"}, tmp_path) == (
        f"{WHERE}: the token in {tmp_path / 'token'} has a control or non-ASCII"
        " character, which an HTTP header cannot carry"
    )
