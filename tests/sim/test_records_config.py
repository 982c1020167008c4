"""The records knobs: parsing, their place in FaultConfig, and the secret token."""

from __future__ import annotations

from datetime import date

import pytest

from skyhaul.errors import ConfigError
from skyhaul.sim import FaultConfig, knobs
from skyhaul.sim.records_config import RecordsConfig


def test_defaults() -> None:
    config = RecordsConfig()
    assert (config.sensors, config.cadence, config.cadence_us) == (32, 5.0, 5_000_000)
    assert (config.rate, config.burst, config.gap, config.token) == (None, 5, 0.0, None)
    assert config.no_data_days == config.malformed_days == ()


def test_from_mapping_reads_every_form() -> None:
    config = RecordsConfig.from_mapping(
        {
            "--records-rate": "20r/s",
            "records-burst": "3",
            "records_gap": "2%",
            "--records-no-data-day": ["2024-01-05", "2024-01-03,2024-01-03"],
            "records_malformed_days": [date(2024, 1, 4)],
            "sensors": 4,
            "cadence": "10s",
            "records_token": " s3cret ",
        }
    )
    assert config.rate == 20.0 and config.burst == 3 and config.gap == pytest.approx(0.02)
    assert config.no_data_days == (date(2024, 1, 3), date(2024, 1, 5))
    assert config.malformed_days == (date(2024, 1, 4),)
    assert (config.sensors, config.cadence, config.token) == (4, 10.0, "s3cret")
    off = RecordsConfig.from_mapping(
        {"records_rate": None, "records_token": None, "records_no_data_days": None}, base=config
    )
    assert off.rate is None and off.token is None and off.no_data_days == ()
    assert off.sensors == 4


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"--records-rate": "0"}, "--records-rate: must be greater than zero"),
        ({"--records-gap": "150%"}, "--records-gap: a probability must be between 0 and 1"),
        ({"--records-no-data-day": "2024-02-30"}, "--records-no-data-day: expected a YYYY-MM-DD"),
        ({"--records-malformed-day": 20240101}, "expected a YYYY-MM-DD date"),
        ({"--sensors": "0"}, "--sensors: must be at least 1"),
        ({"--sensors": "1001"}, "--sensors: must be at most 1000"),
        ({"--cadence": "0"}, "--cadence: must be at least 1ms"),
        ({"--records-burst": "-1"}, "--records-burst: must be a finite number >= 0"),
        ({"--records-token": ""}, "--records-token: expected a non-empty string"),
        ({"sensors": None}, "sensors: cannot be switched off"),
        ({"records_speed": 1}, "unknown records knob 'records_speed'"),
    ],
)
def test_bad_knobs_are_one_line_naming_the_knob(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RecordsConfig.from_mapping(values)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_token_stays_secret() -> None:
    config = RecordsConfig(token="hunter2")
    assert "hunter2" not in repr(config) and "hunter2" not in repr(FaultConfig(records=config))
    assert "records_token" not in config.to_json()
    with pytest.raises(ConfigError) as caught:
        RecordsConfig.from_mapping({"records_token": ["hunter2"]})
    assert "hunter2" not in str(caught.value)


def test_fault_config_carries_the_records_knobs() -> None:
    faults = FaultConfig.from_mapping({"p503": "10%", "records-rate": 20, "sensors": "4"})
    assert faults.p503 == 0.1 and faults.records == RecordsConfig(rate=20.0, sensors=4)
    merged = faults.merged(records_burst=1)
    assert merged.records == RecordsConfig(rate=20.0, sensors=4, burst=1)
    assert merged.p503 == 0.1
    shown = FaultConfig(records=RecordsConfig(no_data_days=(date(2024, 1, 3),))).to_json()
    assert shown["records_no_data_days"] == ["2024-01-03"] and "records" not in shown
    assert shown["records_rate"] is None and shown["sensors"] == 32
    assert FaultConfig.from_mapping(shown) == FaultConfig(
        records=RecordsConfig(no_data_days=(date(2024, 1, 3),))
    )
    with pytest.raises(ConfigError, match=r"unknown fault knob 'nope'.*records_rate"):
        FaultConfig.from_mapping({"nope": 1})


def test_knob_names_and_dates() -> None:
    assert knobs.knob_name(" --records-rate") == "records_rate"
    assert knobs.parse_dates("d", "2024-01-02, 2024-01-01") == (date(2024, 1, 1), date(2024, 1, 2))
    assert knobs.parse_dates("d", []) == ()
