"""Where S3 requests go and how they are signed, read from the AWS environment and files.

Rules:
- :func:`resolve_s3_access` is a function of the environment mapping and the home
  directory it is given: it never reads ``os.environ`` or ``Path.home()`` itself, and it
  opens only the two AWS files those name.
- Credentials, first found wins (botocore's order): ``AWS_ACCESS_KEY_ID`` with
  ``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``); the profile's keys in the shared
  credentials file; the profile's keys in the config file. The profile is ``AWS_PROFILE``,
  else ``AWS_DEFAULT_PROFILE``, else ``default``. The files are ``AWS_SHARED_CREDENTIALS_FILE``
  and ``AWS_CONFIG_FILE``, else ``~/.aws/credentials`` and ``~/.aws/config``.
- No credentials at all, or ``AWS_SKIP_SIGNATURE=true``: requests go unsigned (public
  buckets such as MAST's ``stpubdata``). Web identity and container credentials (what EKS
  and ECS put in the environment) are left to obstore's own provider chain.
- Region: ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile's ``region``, ``us-east-1``.
  Endpoint: ``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``, else AWS itself.
- A half-made setup is a :class:`skyhaul.errors.ConfigError` naming the variable, file or
  profile, never a value: a key id without its secret, a named profile found nowhere, a
  profile that needs SSO, a role or a credential process (not supported here), an endpoint
  that is not an http(s) URL.
- Secrets never show in ``repr``.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from skyhaul.errors import ConfigError

DEFAULT_REGION = "us-east-1"
_TRUE = frozenset({"1", "true", "yes", "on"})
# Profile settings that mean "credentials come from elsewhere", which we do not follow.
_UNSUPPORTED = ("credential_process", "sso_session", "sso_start_url", "role_arn")
# Set by EKS (web identity) and ECS (container credentials); obstore follows them itself.
_AMBIENT = (
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@dataclass(frozen=True, slots=True)
class AwsCredentials:
    """Static AWS keys.

    Parameters
    ----------
    access_key_id : str
        The key id (not secret, but kept out of ``repr`` with the rest).
    secret_access_key : str
        The secret key.
    session_token : str or None
        The session token of temporary credentials.
    source : str
        Where they were found, for messages: ``environment`` or ``FILE [PROFILE]``.
    """

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    source: str = "environment"


@dataclass(frozen=True, slots=True)
class S3Access:
    """How to reach S3: region, endpoint and signing.

    Parameters
    ----------
    region : str
        Region requests are signed for.
    endpoint : str or None
        Base URL of an S3-compatible service; ``None`` for AWS itself.
    credentials : AwsCredentials or None
        Keys to sign with; ``None`` for unsigned requests (unless ``ambient``).
    ambient : bool
        Sign with the credentials obstore finds itself (web identity, container).
    """

    region: str = DEFAULT_REGION
    endpoint: str | None = None
    credentials: AwsCredentials | None = None
    ambient: bool = False

    @property
    def signed(self) -> bool:
        """Whether requests are signed."""
        return self.credentials is not None or self.ambient

    @property
    def allow_http(self) -> bool:
        """Whether the endpoint is plain HTTP (allowed only when chosen explicitly)."""
        return self.endpoint is not None and self.endpoint.lower().startswith("http://")


def resolve_s3_access(environ: Mapping[str, str], home: Path) -> S3Access:
    """Read region, endpoint and credentials as the AWS SDKs do.

    Parameters
    ----------
    environ : Mapping of str to str
        The environment (``os.environ`` in production).
    home : Path
        The home directory, for ``~/.aws/...`` and ``~`` in the file variables.

    Returns
    -------
    S3Access
        Where requests go and how they are signed.

    Raises
    ------
    skyhaul.errors.ConfigError
        For a half-made setup (see the module rules); the message names what to fix.
    """
    env = {k: v.strip() for k, v in environ.items() if k.startswith("AWS_") and v.strip()}
    profile_name = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    named = "AWS_PROFILE" in env or "AWS_DEFAULT_PROFILE" in env
    credentials_file = _aws_file(env.get("AWS_SHARED_CREDENTIALS_FILE"), home, "credentials")
    config_file = _aws_file(env.get("AWS_CONFIG_FILE"), home, "config")
    from_credentials = _section(credentials_file, profile_name)
    config_section = "default" if profile_name == "default" else f"profile {profile_name}"
    from_config = _section(config_file, config_section)
    if from_config is None and profile_name == "default":
        from_config = _section(config_file, "profile default")
    if named and from_credentials is None and from_config is None:
        raise ConfigError(
            f"AWS profile {profile_name!r} is in neither {credentials_file} nor {config_file}"
        )
    region = (
        env.get("AWS_REGION")
        or env.get("AWS_DEFAULT_REGION")
        or (from_config or {}).get("region")
        or DEFAULT_REGION
    )
    endpoint = _endpoint(env)
    if env.get("AWS_SKIP_SIGNATURE", "").lower() in _TRUE:
        return S3Access(region=region, endpoint=endpoint)
    credentials = _env_credentials(env)
    for path, section, values in (
        (credentials_file, profile_name, from_credentials),
        (config_file, config_section, from_config),
    ):
        if credentials is None and values is not None:
            credentials = _file_credentials(values, f"{path} [{section}]")
    if credentials is None:
        for values in (from_credentials, from_config):
            unsupported = [k for k in _UNSUPPORTED if values and k in values]
            if unsupported:
                raise ConfigError(
                    f"AWS profile {profile_name!r} uses {unsupported[0]}, which skyhaul does"
                    " not follow; export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead"
                )
    ambient = credentials is None and any(name in env for name in _AMBIENT)
    return S3Access(region=region, endpoint=endpoint, credentials=credentials, ambient=ambient)


def _aws_file(variable: str | None, home: Path, name: str) -> Path:
    if variable is None:
        return home / ".aws" / name
    if variable == "~" or variable.startswith("~/"):
        return home / variable[2:]
    return Path(variable)


def _section(path: Path, section: str) -> dict[str, str] | None:
    """The settings of one section of an AWS INI file (None: no file or no section)."""
    parser = configparser.RawConfigParser()  # raw: values may hold '%'
    try:
        with path.open(encoding="utf-8") as stream:
            parser.read_file(stream)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ConfigError(f"cannot read AWS file {path}: {type(exc).__name__}") from None
    if not parser.has_section(section):
        return None
    return {k.lower(): v.strip() for k, v in parser.items(section) if v.strip()}


def _env_credentials(env: Mapping[str, str]) -> AwsCredentials | None:
    key_id, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key_id is None and secret is None:
        return None
    if key_id is None or secret is None:
        present, missing = (
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
            if key_id
            else ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
        )
        raise ConfigError(f"{present} is set but {missing} is not")
    return AwsCredentials(key_id, secret, env.get("AWS_SESSION_TOKEN"), "environment")


def _file_credentials(values: Mapping[str, str], where: str) -> AwsCredentials | None:
    key_id, secret = values.get("aws_access_key_id"), values.get("aws_secret_access_key")
    if key_id is None and secret is None:
        return None
    if key_id is None or secret is None:
        missing = "aws_secret_access_key" if key_id else "aws_access_key_id"
        raise ConfigError(f"{where} has no {missing}")
    return AwsCredentials(key_id, secret, values.get("aws_session_token"), where)


def _endpoint(env: Mapping[str, str]) -> str | None:
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        value = env.get(name)
        if value is None:
            continue
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{name} must be an http:// or https:// URL")
        return value.rstrip("/")
    return None
