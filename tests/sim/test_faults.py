from __future__ import annotations

import json

import pytest

from skyhaul.errors import ConfigError
from skyhaul.sim import FaultConfig


def test_defaults_are_all_off() -> None:
    config = FaultConfig()
    assert config.latency == 0
    assert config.rate_limit is None
    assert config.p503 == config.corrupt == config.p_change == 0
    assert config.drop_after is None and config.change_every is None
    assert not config.ignore_range and not config.no_digest and not config.fail_paths


def test_from_mapping_reads_units_and_both_spellings() -> None:
    config = FaultConfig.from_mapping(
        {
            "rate-limit": "10r/s",
            "burst": 3,
            "--latency": "50ms",
            "bandwidth": "1MiB",
            "p503": "5%",
            "fail_paths": {"raw/x.fits": 404},
            "ignore_range": "yes",
        }
    )
    assert config.rate_limit == 10
    assert config.burst == 3
    assert config.latency == pytest.approx(0.05)
    assert config.bandwidth == 1024 * 1024
    assert config.p503 == pytest.approx(0.05)
    assert config.fail_paths == {"raw/x.fits": 404}
    assert config.ignore_range


def test_merged_keeps_other_knobs_and_null_switches_off() -> None:
    config = FaultConfig(rate_limit=5, p503=0.5)
    changed = config.merged(p503=0, bandwidth="10k")
    assert changed.rate_limit == 5 and changed.p503 == 0 and changed.bandwidth == 10240
    assert changed.merged(rate_limit=None).rate_limit is None


def test_to_json_round_trips() -> None:
    config = FaultConfig(seed=3, retry_after=2, fail_paths={"a": 403}, change_every=2)
    data = json.loads(json.dumps(config.to_json()))
    assert FaultConfig.from_mapping(data) == config


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"p503": 2}, "p503"),
        ({"bogus": 1}, "unknown fault knob 'bogus'"),
        ({"bandwidth": 0}, "bandwidth must be > 0"),
        ({"change_every": 0}, "at least 1"),
        ({"latency": None}, "cannot be switched off"),
    ],
)
def test_bad_knobs_raise_config_error(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FaultConfig.from_mapping(values)


def test_direct_construction_is_validated() -> None:
    with pytest.raises(ConfigError, match="between 0 and 1"):
        FaultConfig(corrupt=1.5)
    with pytest.raises(ConfigError, match="status"):
        FaultConfig(fail_paths={"a": 200})
