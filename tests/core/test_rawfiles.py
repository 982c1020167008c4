"""Labels and checksums of raw files."""

from __future__ import annotations

import pytest

from skyhaul.core.rawfiles import check_label, normal_sha256

SHA = "ab" * 32


@pytest.mark.parametrize("label", ["eou-1", " cam a ", "x.y", "ü"])
def test_good_labels_come_back_stripped(label: str) -> None:
    assert check_label("obs_unit", label) == label.strip()


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("", "obs_unit is empty"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("a\nb", "control character"),
        ("..", "only dots"),
        ("x" * 201, "longer than 200"),
    ],
)
def test_bad_labels_are_refused(label: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_label("obs_unit", label)


def test_sha256_is_normalised() -> None:
    assert normal_sha256(f" SHA256:{SHA.upper()} ") == SHA
    assert normal_sha256(SHA) == SHA
    for bad in ("ab" * 31, "zz" * 32, "md5:" + SHA):
        with pytest.raises(ValueError, match="64 hex digits"):
            normal_sha256(bad)
