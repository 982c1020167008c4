"""Synthetic REACH-like dosimeter records for ``/api/records``: queries and JSON bodies.

Rules:
- A query selects a half-open window ``[start, end)`` of at most one day and one sensor
  or ``ALL``; a bad query raises :class:`RecordsQueryError` (the server answers 400).
- Sensor ``i`` (0-based) is ``REACH-{150 + i}``; each has dosimeters 1 and 2, sampled at
  every multiple of the cadence since the UTC epoch. Records are ordered by time, then
  sensor number, then dosimeter.
- Every value is a pure function of (sensor, dosimeter, sample time): the same window
  gives the same bytes on every request. Position comes from a polar orbit per sensor;
  doses rise in the outer-belt horns and the South Atlantic Anomaly; the noise, and
  whether a sample is missing (``records_gap``), come from a 64-bit hash of (sensor, time).
- ``records_no_data_days`` have no records; a window touching a ``records_malformed_days``
  day is answered with :func:`truncated_json`, which never parses.
- Times are integer microseconds since the epoch inside, so alignment is exact.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from skyhaul.sim.listing import FilterError, parse_window
from skyhaul.sim.records_config import RecordsConfig

DESCRIPTOR = "QUICKLOOK"
SENSOR_BASE = 150
DOSIMETERS = (1, 2)
MAX_WINDOW = timedelta(days=1)
CHUNK_RECORDS = 16_384
"""Records per piece of a body (:func:`iter_json_pieces`), so big windows can stream."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US = 86_400_000_000
_MASK = (1 << 64) - 1
_DOSE_ROW = '%s%d, "descriptor": "' + DESCRIPTOR + '", "dose1": %.6f, "dose2": %.6f, %s'
_PLACE_ROW = '"lat": %.4f, "lon": %.4f, "alt": %.3f}'
# Orbit: Iridium-like, 86.4 degrees, ~100 min, six planes; position depends on time only.
_PERIOD_S = 6027.0
_SIN_INC = math.sin(math.radians(86.4))
_COS_INC = math.cos(math.radians(86.4))
_EARTH_DEG_PER_S = 360.0 / 86_164.0905
# (dosimeter, shielding factor, which 32 bits of the sample's hash); 2 is better shielded
_DOSIMETER_BITS = ((1, 1.0, 32), (2, 0.55, 0))
_OFFSET_AS_SPACE = re.compile(r"(\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


class RecordsQueryError(ValueError):
    """A records query cannot be read; the message says which parameter and why."""


def sensor_ids(count: int) -> tuple[str, ...]:
    """The ids of the first ``count`` sensors: ``REACH-150``, ``REACH-151``, ..."""
    return tuple(f"REACH-{SENSOR_BASE + i}" for i in range(count))


@dataclass(frozen=True)
class RecordsQuery:
    """One request's selection: a window ``[start, end)`` and the sensors in it.

    Parameters
    ----------
    start, end : datetime
        The window, UTC; ``end - start`` is between zero and one day.
    sensor : int or None
        0-based sensor index, or None for every sensor (``sensor=ALL``).
    """

    start: datetime
    end: datetime
    sensor: int | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str], config: RecordsConfig) -> RecordsQuery:
        """Read ``obTime=START..END``, ``sensor`` (default ``ALL``) and ``descriptor``
        (default and only value ``QUICKLOOK``).

        Parameters
        ----------
        query : Mapping of str to str
            The request's query parameters.
        config : RecordsConfig
            How many sensors there are.

        Returns
        -------
        RecordsQuery
            The selection.

        Raises
        ------
        RecordsQueryError
            On a missing or bad ``obTime``, a window that ends before it starts or is
            longer than a day, an unknown sensor or descriptor.
        """
        descriptor = query.get("descriptor", DESCRIPTOR).strip().upper()
        if descriptor != DESCRIPTOR:
            raise RecordsQueryError(f"descriptor: only {DESCRIPTOR} is served, got {descriptor!r}")
        sensor = _parse_sensor(query.get("sensor", "ALL"), config.sensors)
        window = query.get("obTime")
        if window is None or not window.strip():
            raise RecordsQueryError("obTime: required, as START..END (ISO 8601 UTC)")
        first, sep, last = window.strip().partition("..")
        if not sep:
            raise RecordsQueryError(f"obTime: expected START..END, got {window!r}")
        start, end = _parse_time(first), _parse_time(last)
        if end < start:
            raise RecordsQueryError(f"obTime: the end is before the start in {window!r}")
        if end - start > MAX_WINDOW:
            raise RecordsQueryError(f"obTime: the window is longer than one day: {window!r}")
        return cls(start, end, sensor)

    def days(self) -> list[date]:
        """The UTC days the window overlaps (none for an empty window)."""
        if self.end <= self.start:
            return []
        first, last = self.start.date(), (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def truncated_json(config: RecordsConfig, query: RecordsQuery) -> str:
    """A malformed body for ``query``: the first half of its first piece, never valid JSON.

    Parameters
    ----------
    config : RecordsConfig
        What is served.
    query : RecordsQuery
        The selection.

    Returns
    -------
    str
        The truncated text (``"["`` for a window without records).
    """
    # Half of the first piece never holds the array's closing bracket.
    first, _count = next(iter_json_pieces(config, query))
    return first[: max(1, len(first) // 2)]


def records_json(config: RecordsConfig, query: RecordsQuery) -> tuple[str, int]:
    """The whole JSON array of the records ``query`` selects.

    Parameters
    ----------
    config : RecordsConfig
        What is served.
    query : RecordsQuery
        The selection.

    Returns
    -------
    tuple of (str, int)
        The body, and the number of records in it.
    """
    pieces = list(iter_json_pieces(config, query))
    return "".join(text for text, _ in pieces), sum(count for _, count in pieces)


def iter_json_pieces(
    config: RecordsConfig, query: RecordsQuery, chunk: int = CHUNK_RECORDS
) -> Iterator[tuple[str, int]]:
    """The JSON array of the records ``query`` selects, in pieces of about ``chunk`` records.

    Parameters
    ----------
    config : RecordsConfig
        What is served.
    query : RecordsQuery
        The selection.
    chunk : int, optional
        Records per piece (whole sample times are never split).

    Yields
    ------
    tuple of (str, int)
        A piece of the body and the number of records in it; joined, the pieces are the
        array (``"[]"`` when there are none). There is always at least one piece.
    """
    opening = "["  # then ", " between pieces
    rows: list[str] = []
    for batch in _rows(config, query):
        rows.extend(batch)
        if len(rows) >= chunk:
            yield opening + ", ".join(rows), len(rows)
            opening, rows = ", ", []
    if rows or opening == "[":
        yield opening + ", ".join(rows) + "]", len(rows)
    else:
        yield "]", 0


def expected_records(config: RecordsConfig, query: RecordsQuery) -> int:
    """Records in the window before gaps and no-data days (an upper bound)."""
    first, stop = _sample_range(config, query)
    sensors = config.sensors if query.sensor is None else 1
    return max(0, stop - first) * sensors * len(DOSIMETERS)


def _rows(config: RecordsConfig, query: RecordsQuery) -> Iterator[list[str]]:
    """The formatted records, one list per sample time that has any."""
    # Hot loop (a day of ALL is 1.1 million records): what two records share is formatted
    # once, and one hash per (sensor, time) gives each dosimeter 32 bits: 16 decide
    # whether the sample is missing, 8 + 8 are the noise of its two doses.
    cadence_us = config.cadence_us
    first, stop = _sample_range(config, query)
    indices = range(config.sensors) if query.sensor is None else (query.sensor,)
    names = sensor_ids(config.sensors)
    planes = [(i, names[i], (i * 0.6180339887) % 1.0, (i % 6) * 31.6) for i in indices]
    no_data = {(day - _EPOCH.date()).days for day in config.no_data_days}
    missing = int(config.gap * 65536)  # missing if the 16 bits are below this
    dose_row, place_row = _DOSE_ROW, _PLACE_ROW
    for k in range(first, stop):
        t_us = k * cadence_us
        if t_us // _DAY_US in no_data:
            continue
        stamp = (_EPOCH + timedelta(microseconds=t_us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        t = t_us / 1e6
        orbit_turns = t / _PERIOD_S
        spin = _EARTH_DEG_PER_S * t
        batch: list[str] = []
        for index, name, phase0, raan in planes:
            z = ((k << 16 | index) + 0x9E3779B97F4A7C15) & _MASK
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
            z ^= z >> 31
            if missing and (z >> 48) < missing and (z >> 16) & 0xFFFF < missing:
                continue  # both dosimeters missing: skip the orbit too
            phase = 2.0 * math.pi * ((orbit_turns + phase0) % 1.0)
            sin_p, cos_p = math.sin(phase), math.cos(phase)
            lat = math.degrees(math.asin(_SIN_INC * sin_p))
            lon = (raan + math.degrees(math.atan2(_COS_INC * sin_p, cos_p)) - spin) % 360.0
            lon = lon - 360.0 if lon >= 180.0 else lon
            alt = 780.0 + 4.0 * math.sin(2.0 * phase + index)
            horns = math.exp(-(((abs(lat) - 62.0) / 7.0) ** 2))
            saa = math.exp(-(((lat + 28.0) / 12.0) ** 2) - ((lon + 45.0) / 30.0) ** 2)
            flux = 0.02 + 1.5 * horns + 3.0 * saa
            head = f'{{"obTime": "{stamp}", "idSensor": "{name}", "dosimeter": '
            place = place_row % (lat, lon, alt)
            for dosimeter, shielding, shift in _DOSIMETER_BITS:
                bits = (z >> shift) & 0xFFFFFFFF
                if (bits >> 16) < missing:
                    continue
                dose = flux * shielding
                dose1 = dose * (0.9 + ((bits >> 8) & 0xFF) / 1280.0)  # noise: 0.9 to 1.1
                dose2 = 0.3 * dose * (0.9 + (bits & 0xFF) / 1280.0)
                batch.append(dose_row % (head, dosimeter, dose1, dose2, place))
        if batch:
            yield batch


def _sample_range(config: RecordsConfig, query: RecordsQuery) -> tuple[int, int]:
    """Indices ``k`` of the samples (at ``k * cadence``) inside ``[start, end)``."""
    cadence_us = config.cadence_us
    start_us = (query.start - _EPOCH) // timedelta(microseconds=1)
    end_us = (query.end - _EPOCH) // timedelta(microseconds=1)
    return -(-start_us // cadence_us), -(-end_us // cadence_us)


def _parse_sensor(value: str, count: int) -> int | None:
    text = value.strip().upper()
    if text == "ALL":
        return None
    prefix, _, number = text.rpartition("-")
    if prefix == "REACH" and number.isdigit() and 0 <= int(number) - SENSOR_BASE < count:
        return int(number) - SENSOR_BASE
    known = f"ALL or REACH-{SENSOR_BASE}..REACH-{SENSOR_BASE + count - 1}"
    raise RecordsQueryError(f"sensor: unknown sensor {value!r} ({known})")


def _parse_time(value: str) -> datetime:
    # An unescaped "+00:00" in a query string arrives as " 00:00" ("+" means a space).
    text = _OFFSET_AS_SPACE.sub(r"\1+\2", value.strip())
    try:
        moment = parse_window({"start": text})[0]  # the listings' reading of a time
    except FilterError:
        moment = None
    if moment is None:
        raise RecordsQueryError(f"obTime: not an ISO 8601 time: {value!r}")
    return moment
