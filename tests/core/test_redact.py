"""Secrets never reach logs: passwords and signed-URL parameters are redacted."""

from __future__ import annotations

import pytest

from skyhaul.core.redact import (
    REDACTED,
    is_sensitive_parameter,
    redact_text,
    redact_url,
    redact_urls_in,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # nothing secret: unchanged, byte for byte
        ("https://archive.example/data/a.fits", "https://archive.example/data/a.fits"),
        (
            "https://archive.example/get?id=42&format=fits#top",
            "https://archive.example/get?id=42&format=fits#top",
        ),
        # userinfo password
        ("https://alice:s3cret@host/f", f"https://alice:{REDACTED}@host/f"),
        ("ftp://alice:p%40ss:word@host:21/f", f"ftp://alice:{REDACTED}@host:21/f"),
        ("https://alice@host/f", "https://alice@host/f"),
        # S3 presigned URL
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIA%2F20240101&X-Amz-Date=20240101T000000Z"
            "&X-Amz-Security-Token=FwoG&X-Amz-Signature=abc123",
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential={REDACTED}&X-Amz-Date=20240101T000000Z"
            f"&X-Amz-Security-Token={REDACTED}&X-Amz-Signature={REDACTED}",
        ),
        # CloudFront signed URL
        (
            "https://d.cloudfront.net/f?Policy=eyJ&Signature=Zm9v&Key-Pair-Id=K2J",
            f"https://d.cloudfront.net/f?Policy={REDACTED}&Signature={REDACTED}"
            f"&Key-Pair-Id={REDACTED}",
        ),
        # case-insensitive names, common tokens and keys
        ("https://h/f?TOKEN=t1&n=1", f"https://h/f?TOKEN={REDACTED}&n=1"),
        (
            "https://h/f?access_token=t&api_key=k",
            f"https://h/f?access_token={REDACTED}&api_key={REDACTED}",
        ),
        ("https://h/f?apikey=k;sig=s", f"https://h/f?apikey={REDACTED};sig={REDACTED}"),
        ("https://h/f?key=k&password=p", f"https://h/f?key={REDACTED}&password={REDACTED}"),
        # suffix rule: anything ending in token/secret/signature/_key
        (
            "https://h/f?my_token=a&client_secret=b",
            f"https://h/f?my_token={REDACTED}&client_secret={REDACTED}",
        ),
        ("https://h/f?private_key=a", f"https://h/f?private_key={REDACTED}"),
        # secrets in the fragment (OAuth implicit flow)
        ("https://h/cb#access_token=abc&state=1", f"https://h/cb#access_token={REDACTED}&state=1"),
        # a name without a value is left alone, an empty value is still redacted
        ("https://h/f?token&x=1", "https://h/f?token&x=1"),
        ("https://h/f?token=", f"https://h/f?token={REDACTED}"),
        # both at once
        ("https://u:pw@h/f?sig=zz", f"https://u:{REDACTED}@h/f?sig={REDACTED}"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "http://[::1",  # urllib.parse would raise on this
        "http://%zz:%zz@/?&&==&",
        "://:@",
        "\x00\n?token=abc",
        "https://h/f?" + "a=1&" * 10_000,
    ],
)
def test_redact_url_never_raises(url: str) -> None:
    result = redact_url(url)
    assert isinstance(result, str)
    assert "abc" not in result


def test_redact_url_hides_password_of_odd_url() -> None:
    assert "hunter2" not in redact_url("http://user:hunter2@[::1/x")


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [
        ("X-Amz-Signature", True),
        ("x-amz-credential", True),
        ("Signature", True),
        ("sig", True),
        ("Key", True),
        ("refresh_token", True),
        ("X-Goog-Signature", True),
        ("id", False),
        ("format", False),
        ("X-Amz-Date", False),
        ("keyword", False),
        ("signature_version", False),
    ],
)
def test_is_sensitive_parameter(name: str, sensitive: bool) -> None:
    assert is_sensitive_parameter(name) is sensitive


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("token abc in abc", ["abc"], f"token {REDACTED} in {REDACTED}"),
        ("nothing here", ["abc"], "nothing here"),
        ("empty secrets are ignored", ["", ""], "empty secrets are ignored"),
        ("a/b+c and a%2Fb%2Bc", ["a/b+c"], f"{REDACTED} and {REDACTED}"),
        ("longest first: abcdef", ["abc", "abcdef"], f"longest first: {REDACTED}"),
        ("two: x1 y2", ["x1", "y2"], f"two: {REDACTED} {REDACTED}"),
    ],
)
def test_redact_text(text: str, secrets: list[str], expected: str) -> None:
    assert redact_text(text, secrets) == expected


def test_redact_text_accepts_any_iterable() -> None:
    assert redact_text("k=abc", (s for s in ["abc"])) == f"k={REDACTED}"


def test_urls_in_a_document_are_redacted_wherever_they_are() -> None:
    document = {
        "url": "https://a:pw@host/f",
        "nested": [{"u": "https://host/f?token=t0k"}, ("https://host/g?sig=s1g", 3)],
        "text": "no url here: token=abc",
        "n": 1,
    }
    assert redact_urls_in(document) == {
        "url": f"https://a:{REDACTED}@host/f",
        "nested": [
            {"u": f"https://host/f?token={REDACTED}"},
            [f"https://host/g?sig={REDACTED}", 3],
        ],
        "text": "no url here: token=abc",
        "n": 1,
    }
