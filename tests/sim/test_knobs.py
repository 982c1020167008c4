from __future__ import annotations

import pytest

from skyhaul.errors import ConfigError
from skyhaul.sim import knobs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (1048576, 1048576),
        ("64KiB", 65536),
        ("64k", 65536),
        ("1.5MB", 1_500_000),
        ("2 MiB", 2 * 1024**2),
        ("1G", 1024**3),
        ("2MiB/s", 2 * 1024**2),
        ("0", 0),
    ],
)
def test_sizes(text: object, expected: int) -> None:
    assert knobs.parse_size("size", text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [(0.25, 0.25), ("200ms", 0.2), ("2s", 2.0), ("1.5", 1.5), ("1min", 60.0)],
)
def test_durations(text: object, expected: float) -> None:
    assert knobs.parse_duration("latency", text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "expected"), [(10, 10.0), ("10r/s", 10.0), ("600r/m", 10.0), ("2.5", 2.5)]
)
def test_rates(text: object, expected: float) -> None:
    assert knobs.parse_rate("rate", text) == pytest.approx(expected)


def test_probabilities_and_flags() -> None:
    assert knobs.parse_probability("p", "10%") == pytest.approx(0.1)
    assert knobs.parse_probability("p", 1) == 1.0
    assert knobs.parse_flag("f", "yes") is True
    assert knobs.parse_flag("f", False) is False
    assert knobs.parse_count("n", "3", minimum=1) == 3


def test_fail_paths_forms() -> None:
    assert knobs.parse_fail_paths("fp", ["/raw/a.fits=404", "raw/b.fits=403"]) == {
        "raw/a.fits": 404,
        "raw/b.fits": 403,
    }
    assert knobs.parse_fail_paths("fp", "a=500,b=503") == {"a": 500, "b": 503}
    assert knobs.parse_fail_paths("fp", {"a": "410"}) == {"a": 410}


@pytest.mark.parametrize(
    ("parse", "value", "message"),
    [
        (knobs.parse_size, "12 parsecs", "unknown size unit"),
        (knobs.parse_size, "-5", ">= 0"),
        (knobs.parse_size, True, "expected a number"),
        (knobs.parse_duration, "soon", "cannot read"),
        (knobs.parse_rate, 0, "greater than zero"),
        (knobs.parse_rate, "3r/h", "unknown rate unit"),
        (knobs.parse_probability, "1.5", "between 0 and 1"),
        (knobs.parse_probability, "150%", "between 0 and 1"),
        (knobs.parse_count, "2.5", "whole number"),
        (knobs.parse_flag, "maybe", "true or false"),
        (knobs.parse_status, 200, "between 300 and 599"),
        (knobs.parse_fail_paths, "no-status", "PATH=STATUS"),
        (knobs.parse_fail_paths, "=404", "empty path"),
    ],
)
def test_bad_values_name_the_knob(parse: object, value: object, message: str) -> None:
    assert callable(parse)
    with pytest.raises(ConfigError, match=message) as caught:
        parse("--knob", value)
    assert str(caught.value).startswith("--knob")
    assert "\n" not in str(caught.value)
