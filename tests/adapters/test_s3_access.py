"""Resolving S3 region, endpoint and credentials from an AWS environment and files: a table
of environments and the access each gives, and the half-made setups refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyhaul.adapters.s3_access import AwsCredentials, S3Access, resolve_s3_access
from skyhaul.errors import ConfigError

CREDENTIALS = """\
[default]
aws_access_key_id = FILEDEFAULT
aws_secret_access_key = file-default-secret

[science]
aws_access_key_id = FILESCIENCE
aws_secret_access_key = file-science-secret
aws_session_token = file-science-token
"""
CONFIG = """\
[default]
region = eu-west-3

[profile science]
region = us-west-2

[profile configkeys]
region = ap-south-1
aws_access_key_id = CONFIGKEYS
aws_secret_access_key = config-keys-secret

[profile sso]
sso_session = corp
sso_account_id = 123
"""
ENV_KEYS = {"AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "env-secret"}


def _home(
    tmp_path: Path, credentials: str | None = CREDENTIALS, config: str | None = CONFIG
) -> Path:
    aws = tmp_path / ".aws"
    aws.mkdir()
    if credentials is not None:
        (aws / "credentials").write_text(credentials)
    if config is not None:
        (aws / "config").write_text(config)
    return tmp_path


def _keys(access: S3Access) -> tuple[str, str | None, str] | None:
    c = access.credentials
    return None if c is None else (c.access_key_id, c.session_token, Path(c.source).name)


@pytest.mark.parametrize(
    ("environ", "region", "endpoint", "keys"),
    [
        ({}, "eu-west-3", None, ("FILEDEFAULT", None, "credentials [default]")),
        (ENV_KEYS, "eu-west-3", None, ("ENVKEY", None, "environment")),
        (
            {**ENV_KEYS, "AWS_SESSION_TOKEN": "tok", "AWS_PROFILE": "science"},
            "us-west-2",
            None,
            ("ENVKEY", "tok", "environment"),
        ),
        (
            {"AWS_PROFILE": "science"},
            "us-west-2",
            None,
            ("FILESCIENCE", "file-science-token", "credentials [science]"),
        ),
        (
            {"AWS_DEFAULT_PROFILE": "science"},
            "us-west-2",
            None,
            ("FILESCIENCE", "file-science-token", "credentials [science]"),
        ),
        (
            {"AWS_PROFILE": "configkeys"},
            "ap-south-1",
            None,
            ("CONFIGKEYS", None, "config [profile configkeys]"),
        ),
        (
            {"AWS_REGION": "eu-north-1", "AWS_DEFAULT_REGION": "eu-central-1"},
            "eu-north-1",
            None,
            ("FILEDEFAULT", None, "credentials [default]"),
        ),
        (
            {"AWS_DEFAULT_REGION": "eu-central-1"},
            "eu-central-1",
            None,
            ("FILEDEFAULT", None, "credentials [default]"),
        ),
        (
            {"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000/", "AWS_ENDPOINT_URL": "http://other:1"},
            "eu-west-3",
            "http://127.0.0.1:9000",
            ("FILEDEFAULT", None, "credentials [default]"),
        ),
        (
            {"AWS_ENDPOINT_URL": "https://s3.example.org"},
            "eu-west-3",
            "https://s3.example.org",
            ("FILEDEFAULT", None, "credentials [default]"),
        ),
        ({**ENV_KEYS, "AWS_SKIP_SIGNATURE": "true"}, "eu-west-3", None, None),
        (
            {"AWS_ACCESS_KEY_ID": "", "AWS_REGION": "  "},
            "eu-west-3",
            None,
            ("FILEDEFAULT", None, "credentials [default]"),
        ),
    ],
)
def test_the_environment_and_files_give_access(
    tmp_path: Path,
    environ: dict[str, str],
    region: str,
    endpoint: str | None,
    keys: tuple[str, str | None, str] | None,
) -> None:
    access = resolve_s3_access(environ, _home(tmp_path))
    assert (access.region, access.endpoint, _keys(access)) == (region, endpoint, keys)
    assert access.signed is (keys is not None)


def test_nothing_at_all_means_unsigned_requests_to_aws_in_us_east_1(tmp_path: Path) -> None:
    access = resolve_s3_access({"PATH": "/bin", "HOME": "/elsewhere"}, tmp_path)
    assert access == S3Access(region="us-east-1", endpoint=None, credentials=None)
    assert not access.signed
    assert not access.allow_http


def test_file_variables_name_other_files_and_expand_the_home(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "creds").write_text(
        "[default]\naws_access_key_id = OTHER\naws_secret_access_key = s\n"
    )
    (elsewhere / "conf").write_text("[default]\nregion = sa-east-1\n")
    environ = {
        "AWS_SHARED_CREDENTIALS_FILE": "~/elsewhere/creds",
        "AWS_CONFIG_FILE": str(elsewhere / "conf"),
    }
    access = resolve_s3_access(environ, _home(tmp_path))
    assert access.region == "sa-east-1"
    assert access.credentials is not None
    assert access.credentials.access_key_id == "OTHER"


def test_web_identity_is_left_to_obstore(tmp_path: Path) -> None:
    access = resolve_s3_access({"AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token"}, tmp_path)
    assert access.credentials is None
    assert access.ambient and access.signed


def test_an_http_endpoint_is_allowed_only_when_chosen(tmp_path: Path) -> None:
    plain = resolve_s3_access({"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:1"}, tmp_path)
    tls = resolve_s3_access({"AWS_ENDPOINT_URL_S3": "https://minio.local"}, tmp_path)
    assert plain.allow_http and not tls.allow_http


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"AWS_ACCESS_KEY_ID": "K"}, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"),
        (
            {"AWS_SECRET_ACCESS_KEY": "S"},
            "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not",
        ),
        ({"AWS_PROFILE": "nowhere"}, "AWS profile 'nowhere' is in neither"),
        ({"AWS_PROFILE": "sso"}, "uses sso_session, which skyhaul does not follow"),
        (
            {"AWS_ENDPOINT_URL_S3": "minio.local:9000"},
            "AWS_ENDPOINT_URL_S3 must be an http:// or https:// URL",
        ),
        ({"AWS_ENDPOINT_URL": "ftp://x"}, "AWS_ENDPOINT_URL must be an http:// or https:// URL"),
    ],
)
def test_half_made_setups_are_config_errors(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_s3_access(environ, _home(tmp_path))
    assert message in str(caught.value)


def test_a_key_id_without_its_secret_in_a_file_is_an_error(tmp_path: Path) -> None:
    home = _home(tmp_path, credentials="[default]\naws_access_key_id = K\n")
    with pytest.raises(ConfigError, match=r"credentials \[default\] has no aws_secret_access_key"):
        resolve_s3_access({}, home)


def test_an_unreadable_file_is_an_error_that_names_it(tmp_path: Path) -> None:
    home = _home(tmp_path, credentials="aws_access_key_id = no section\n")
    with pytest.raises(ConfigError, match=r"cannot read AWS file .*credentials"):
        resolve_s3_access({}, home)


def test_secrets_stay_out_of_repr_and_errors(tmp_path: Path) -> None:
    access = resolve_s3_access({**ENV_KEYS, "AWS_SESSION_TOKEN": "env-token"}, tmp_path)
    shown = repr(access)
    assert "env-secret" not in shown and "env-token" not in shown and "ENVKEY" not in shown
    assert repr(AwsCredentials("id", "hidden")).count("hidden") == 0
    with pytest.raises(ConfigError) as caught:
        resolve_s3_access({"AWS_SECRET_ACCESS_KEY": "very-secret"}, tmp_path)
    assert "very-secret" not in str(caught.value)
