"""Origins and the credential rule, without a network: normalisation, look-ups, the cache."""

from __future__ import annotations

import pytest
from yarl import URL

from skyhaul.adapters.http.origins import NO_HEADERS, CredentialRule, origin_of

SECRET = "Bearer s3cr3t"


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("HTTP://Host:80/x", "http://host"),
        ("http://host", "http://host"),
        ("https://Archive.Example:443/pub/?q=1#f", "https://archive.example"),
        ("https://archive.example:8443/", "https://archive.example:8443"),
        ("http://host:443/", "http://host:443"),
        ("http://user:pw@Host:8080/a", "http://host:8080"),
        ("http://[::1]:8080/x", "http://[::1]:8080"),
        ("http://bücher.example/", "http://xn--bcher-kva.example"),
        ("/relative/path", ""),
        ("http://bad\\host/", ""),
        ("", ""),
    ],
)
def test_origins_are_normalised(url: str, origin: str) -> None:
    assert origin_of(url) == origin
    if origin:
        assert origin_of(URL(url)) == origin


@pytest.mark.parametrize(
    "configured", ["HTTP://Host:80", "http://host", "http://HOST/", "http://host:80/"]
)
@pytest.mark.parametrize("asked", ["http://host/a.fits", "HTTP://HOST:80/b", "http://u@host/c"])
def test_every_spelling_of_an_origin_is_the_same_origin(configured: str, asked: str) -> None:
    rule = CredentialRule.authorization([(configured, SECRET)])
    assert rule.headers_for(asked) == {"Authorization": SECRET}


@pytest.mark.parametrize(
    "url",
    [
        "https://host/a",  # another scheme
        "http://host:8080/a",  # another port
        "http://other/a",
        "http://host.evil/a",
        "http://host@evil/a",  # userinfo "host", host "evil"
        "http://evil/?http://host/",
        "http://evil#@host/",
        "ftp://host/a",
        "not a url",
    ],
)
def test_credentials_stay_with_their_origin(url: str) -> None:
    rule = CredentialRule.authorization([("http://host", SECRET)])
    # Asked twice: the second answer comes from the prefix cache and must agree.
    assert rule.headers_for(url) == {}
    assert rule.headers_for(url) == {}


def test_the_cache_answers_as_the_parser_does_for_a_prefix_seen_before() -> None:
    rule = CredentialRule.authorization([("http://host", SECRET)])
    assert rule.headers_for("http://host/a") == {"Authorization": SECRET}
    assert rule.headers_for("http://host/b?token=1") == {"Authorization": SECRET}
    # No path: "?" ends the authority, not the first "/".
    assert rule.headers_for("http://host?x=/y") == {"Authorization": SECRET}
    assert rule.headers_for("http://evil?x=//host/") == {}
    assert rule.headers_for("http://host") == {"Authorization": SECRET}


def test_an_empty_rule_grants_nothing_and_costs_nothing() -> None:
    for rule in (CredentialRule(), CredentialRule([("http://host", {})])):
        assert rule.headers_for("http://host/a") is NO_HEADERS


def test_origins_named_twice_get_both_sets_of_headers() -> None:
    rule = CredentialRule(
        [("https://a.example", {"Authorization": SECRET}), ("HTTPS://A.example/", {"X-Key": "k"})]
    )
    assert rule.headers_for("https://a.example/f") == {"Authorization": SECRET, "X-Key": "k"}


def test_granted_headers_cannot_be_changed_by_a_caller() -> None:
    rule = CredentialRule.authorization([("http://host", SECRET)])
    granted = rule.headers_for("http://host/a")
    with pytest.raises(TypeError):
        granted["Authorization"] = "stolen"  # type: ignore[index]


def test_repr_names_origins_never_values() -> None:
    rule = CredentialRule.authorization([("https://Archive.example", SECRET)])
    assert "s3cr3t" not in repr(rule)
    assert "https://archive.example" in repr(rule)
