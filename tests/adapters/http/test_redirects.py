"""The redirect policy, without a network: which 3xx are followed, where to, how often."""

from __future__ import annotations

import pytest
from yarl import URL

from skyhaul.adapters.http.redirects import REDIRECT_STATUSES, RedirectPolicy
from skyhaul.errors import ClientError

HERE = URL("https://archive.example/pub/dir/a.fits?token=SECRET")
POLICY = RedirectPolicy(max_redirects=3)


def next_url(location: str | None, status: int = 302, followed: int = 0) -> URL:
    return POLICY.next_url(HERE, status, location, followed=followed, requested=str(HERE))


@pytest.mark.parametrize("status", sorted(REDIRECT_STATUSES))
@pytest.mark.parametrize(
    ("location", "target"),
    [
        ("https://mirror.example/x.fits", "https://mirror.example/x.fits"),
        ("/other/b.fits", "https://archive.example/other/b.fits"),
        ("b.fits", "https://archive.example/pub/dir/b.fits"),
        ("//cdn.example/c.fits", "https://cdn.example/c.fits"),
        ("HTTPS://Archive.Example/d.fits", "https://archive.example/d.fits"),
    ],
)
def test_redirects_resolve_against_the_url_that_answered(
    status: int, location: str, target: str
) -> None:
    assert str(next_url(location, status)) == target


def test_http_may_lead_to_https() -> None:
    plain = URL("http://archive.example/a")
    assert POLICY.next_url(plain, 301, "https://archive.example/a", followed=0, requested="")
    assert POLICY.next_url(plain, 301, "http://mirror.example/a", followed=0, requested="")


def test_https_never_leads_to_http() -> None:
    with pytest.raises(ClientError, match="https to http refused") as refused:
        next_url("http://archive.example/pub/dir/a.fits?token=SECRET")
    assert "SECRET" not in str(refused.value)


def test_the_limit_counts_redirects_already_followed() -> None:
    assert next_url("/b", followed=2)
    with pytest.raises(ClientError, match=r"too many redirects .*\(limit 3\)") as caught:
        next_url("/b", followed=3)
    assert "SECRET" not in str(caught.value)
    with pytest.raises(ClientError, match="too many redirects"):
        RedirectPolicy(max_redirects=0).next_url(HERE, 302, "/b", followed=0, requested="")


@pytest.mark.parametrize("status", [300, 304, 305, 306, 399])
def test_other_3xx_answers_are_client_errors(status: int) -> None:
    with pytest.raises(ClientError, match=f"HTTP {status}") as caught:
        next_url("/b", status)
    assert caught.value.status == status


@pytest.mark.parametrize(
    ("location", "message"),
    [
        (None, "without a Location"),
        ("", "without a Location"),
        ("ftp://archive.example/a", "unusable location"),
        ("file:///etc/passwd", "unusable location"),
        ("http://bad\\host/", "unusable location"),
    ],
)
def test_unusable_locations_are_client_errors(location: str | None, message: str) -> None:
    with pytest.raises(ClientError, match=message) as caught:
        next_url(location)
    assert "SECRET" not in str(caught.value)
