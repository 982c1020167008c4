"""Location URLs: which storage each names, and a clear refusal for anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyhaul.adapters.locations import LocalLocation, S3Location, location_storage
from skyhaul.errors import ConfigError


def test_a_file_url_is_a_local_directory(tmp_path: Path) -> None:
    storage = location_storage((tmp_path / "with space").as_uri())
    assert isinstance(storage, LocalLocation)
    assert storage.root == (tmp_path / "with space").resolve()


def test_an_s3_url_is_a_bucket_and_prefix() -> None:
    storage = location_storage("s3://archive-bucket/site/lta/")
    assert isinstance(storage, S3Location)
    assert (storage.bucket, storage.prefix) == ("archive-bucket", "site/lta")
    assert storage.key("u/m/p.tar") == "site/lta/u/m/p.tar"
    assert location_storage("s3://b").url == "s3://b/"


@pytest.mark.parametrize(
    "url",
    [
        "relative/path",
        "file://host/path",
        "file:relative",
        "http://x/y",
        "s3:///nobucket",
        "s3://b/p?x=1",
        "",
    ],
)
def test_other_urls_are_refused_with_the_forms_accepted(url: str) -> None:
    with pytest.raises(ConfigError, match="file:///absolute/path or s3://bucket/prefix"):
        location_storage(url)
