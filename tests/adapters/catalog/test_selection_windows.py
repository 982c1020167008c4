"""Selections at the edges of time windows, as tables, on SQLite and PostgreSQL; and
rediscovery by listed version."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from skyhaul.adapters.catalog import Catalog, RegisterResult
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileSpec, Selection
from skyhaul.core.window import TimeWindow

DAY = datetime(2024, 3, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


WINDOW = TimeWindow(at(10), at(12))
"""Every table below uses the window [10:00, 12:00)."""


def spec(
    name: str = "probe",
    *,
    obs: tuple[datetime | None, datetime | None] = (None, None),
    downlink: datetime | None = None,
    instrument: str | None = "EUI",
    version: str | None = None,
) -> FileSpec:
    return FileSpec(
        url=f"https://archive.example/{name}.fits",
        path=f"{name}.fits",
        size=10,
        source="test",
        instrument=instrument,
        obs_start=obs[0],
        obs_end=obs[1],
        downlink_time=downlink,
        version=version,
    )


def selected(catalog: Catalog, selection: Selection) -> list[str]:
    names = [record.path.removesuffix(".fits") for record in catalog.list_files(selection)]
    assert catalog.count_files(selection) == len(names)
    return names


# --- observation windows -------------------------------------------------------------------

OBSERVATION_CASES = [
    pytest.param(at(9), at(10, 30), True, id="overlapping the window start"),
    pytest.param(at(11, 30), at(12, 30), True, id="overlapping the window end"),
    pytest.param(at(10, 15), at(10, 45), True, id="inside"),
    pytest.param(at(9), at(13), True, id="containing the window"),
    pytest.param(at(10), at(12), True, id="the window itself"),
    pytest.param(at(9), at(10), False, id="ending exactly at the window start"),
    pytest.param(at(9), at(10) + TICK, True, id="ending just after the window start"),
    pytest.param(at(12), at(13), False, id="starting exactly at the window end"),
    pytest.param(at(12) - TICK, at(13), True, id="starting just before the window end"),
    pytest.param(at(10), at(10, 5), True, id="starting exactly at the window start"),
    pytest.param(at(11), at(12), True, id="ending exactly at the window end"),
    pytest.param(at(8), at(9), False, id="before"),
    pytest.param(at(13), at(14), False, id="after"),
    pytest.param(at(10), None, True, id="instant at the window start"),
    pytest.param(at(11), None, True, id="instant inside"),
    pytest.param(at(12) - TICK, None, True, id="instant just before the window end"),
    pytest.param(at(12), None, False, id="instant at the window end"),
    pytest.param(at(10) - TICK, None, False, id="instant just before the window start"),
    pytest.param(at(10), at(10), True, id="zero length at the window start"),
    pytest.param(None, None, False, id="no observation time"),
    pytest.param(None, at(11), False, id="an end but no start"),
]


@pytest.mark.parametrize(("obs_start", "obs_end", "inside"), OBSERVATION_CASES)
def test_observation_window(
    catalog: Catalog, now, obs_start: datetime | None, obs_end: datetime | None, inside: bool
) -> None:
    # The probe's downlink is inside the window: it must not count for an observation window.
    catalog.register([spec(obs=(obs_start, obs_end), downlink=at(11))], "/d", now=now)
    selection = Selection(obs_start=WINDOW.start, obs_end=WINDOW.end)
    assert selected(catalog, selection) == (["probe"] if inside else [])
    # The sources filter with TimeWindow.overlaps: both layers must agree.
    if obs_start is not None:
        assert WINDOW.overlaps(obs_start, obs_end) is inside


@pytest.mark.parametrize(
    ("selection", "obs_start", "obs_end", "inside"),
    [
        pytest.param(Selection(obs_start=at(10)), at(9), at(10), False, id="from: ending at it"),
        pytest.param(Selection(obs_start=at(10)), at(9), at(11), True, id="from: across it"),
        pytest.param(Selection(obs_start=at(10)), at(30), None, True, id="from: long after"),
        pytest.param(Selection(obs_start=at(10)), at(9), None, False, id="from: instant before"),
        pytest.param(Selection(obs_end=at(12)), at(12), at(13), False, id="until: starting at it"),
        pytest.param(Selection(obs_end=at(12)), at(-30), at(-29), True, id="until: long before"),
        pytest.param(Selection(obs_end=at(12)), None, None, False, id="until: no time"),
    ],
)
def test_observation_window_open_on_one_side(
    catalog: Catalog,
    now,
    selection: Selection,
    obs_start: datetime | None,
    obs_end: datetime | None,
    inside: bool,
) -> None:
    catalog.register([spec(obs=(obs_start, obs_end))], "/d", now=now)
    assert selected(catalog, selection) == (["probe"] if inside else [])


def test_window_bounds_in_another_offset_are_the_same_instants(catalog: Catalog, now) -> None:
    catalog.register(
        [spec("a", obs=(at(9), at(10))), spec("b", obs=(at(9), at(10, 1)))], "/d", now=now
    )
    plus_two = timezone(timedelta(hours=2))
    selection = Selection(
        obs_start=datetime(2024, 3, 1, 12, tzinfo=plus_two),  # 10:00Z
        obs_end=datetime(2024, 3, 1, 14, tzinfo=plus_two),
    )
    assert selected(catalog, selection) == ["b"]


# --- downlink windows ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("downlink", "inside"),
    [
        pytest.param(at(10), True, id="at the window start"),
        pytest.param(at(11), True, id="inside"),
        pytest.param(at(12) - TICK, True, id="just before the window end"),
        pytest.param(at(12), False, id="at the window end"),
        pytest.param(at(10) - TICK, False, id="just before the window start"),
        pytest.param(None, False, id="no downlink time"),
    ],
)
def test_downlink_window(catalog: Catalog, now, downlink: datetime | None, inside: bool) -> None:
    # The observation is inside the window: it must not count for a downlink window.
    catalog.register([spec(obs=(at(11), None), downlink=downlink)], "/d", now=now)
    selection = Selection(downlink_start=WINDOW.start, downlink_end=WINDOW.end)
    assert selected(catalog, selection) == (["probe"] if inside else [])
    if downlink is not None:
        assert WINDOW.contains(downlink) is inside


PASSES = ((at(10), at(10, 30)), (at(11), at(11, 30)))
"""Two ground-station passes with a gap between them."""


@pytest.mark.parametrize(
    ("downlink", "inside"),
    [
        pytest.param(at(10), True, id="at the first pass start"),
        pytest.param(at(10, 30) - TICK, True, id="at the end of the first pass"),
        pytest.param(at(10, 30), False, id="at the first pass end"),
        pytest.param(at(10, 45), False, id="between the passes"),
        pytest.param(at(11), True, id="at the second pass start"),
        pytest.param(at(11, 15), True, id="inside the second pass"),
        pytest.param(at(11, 30), False, id="at the second pass end"),
        pytest.param(at(9), False, id="before both"),
        pytest.param(None, False, id="no downlink time"),
    ],
)
def test_downlink_windows_of_a_pass_schedule(
    catalog: Catalog, now, downlink: datetime | None, inside: bool
) -> None:
    catalog.register([spec(downlink=downlink)], "/d", now=now)
    assert selected(catalog, Selection(downlink_windows=PASSES)) == (["probe"] if inside else [])


def test_empty_pass_schedule_selects_nothing(catalog: Catalog, now) -> None:
    catalog.register(
        [spec("a", downlink=at(10)), spec("b", obs=(at(10), None)), spec("c")], "/d", now=now
    )
    assert selected(catalog, Selection(downlink_windows=())) == []
    assert selected(catalog, Selection(downlink_windows=None)) == ["a", "b", "c"]


# --- downloaded between ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("downloaded_at", "inside"),
    [
        pytest.param(at(10), True, id="at the window start"),
        pytest.param(at(11), True, id="inside"),
        pytest.param(at(12) - TICK, True, id="just before the window end"),
        pytest.param(at(12), False, id="at the window end"),
        pytest.param(at(10) - TICK, False, id="just before the window start"),
        pytest.param(None, False, id="never downloaded"),
    ],
)
def test_downloaded_between(catalog: Catalog, downloaded_at: datetime | None, inside: bool) -> None:
    catalog.register([spec()], "/d", now=at(0))
    if downloaded_at is not None:
        [claimed] = catalog.claim_batch("w", 1, now=downloaded_at, lease_seconds=60)
        assert catalog.complete(
            claimed.id, "w", now=downloaded_at, size=10, sha256="0" * 64, validator=None
        )
    selection = Selection(downloaded_start=WINDOW.start, downloaded_end=WINDOW.end)
    assert selected(catalog, selection) == (["probe"] if inside else [])


# --- combined with an instrument -----------------------------------------------------------


@pytest.fixture
def instruments(catalog: Catalog, now) -> Catalog:
    catalog.register(
        [
            spec("eui_in", obs=(at(10), at(10, 1)), downlink=at(10, 10), instrument="EUI"),
            spec("phi_in", obs=(at(11), at(11, 1)), downlink=at(11, 10), instrument="PHI"),
            spec("eui_out", obs=(at(12), at(12, 1)), downlink=at(12, 10), instrument="EUI"),
            spec("none_in", obs=(at(11), None), downlink=at(11, 20), instrument=None),
        ],
        "/d",
        now=now,
    )
    return catalog


@pytest.mark.parametrize(
    ("selection", "names"),
    [
        (Selection(obs_start=at(10), obs_end=at(12)), ["eui_in", "phi_in", "none_in"]),
        (Selection(instrument="EUI", obs_start=at(10), obs_end=at(12)), ["eui_in"]),
        (Selection(instrument="EUI", obs_start=at(10), obs_end=at(13)), ["eui_in", "eui_out"]),
        (Selection(instrument="PHI", downlink_start=at(10), downlink_end=at(12)), ["phi_in"]),
        (Selection(instrument="EUI", downlink_windows=PASSES), ["eui_in"]),
        (Selection(instrument="PHI", downlink_windows=PASSES), ["phi_in"]),
        (Selection(instrument="SPICE", obs_start=at(0), obs_end=at(24)), []),
        (
            Selection(
                instrument="EUI",
                obs_start=at(10),
                obs_end=at(13),
                downlink_start=at(12),
                downlink_end=at(13),
            ),
            ["eui_out"],
        ),
    ],
)
def test_window_combined_with_an_instrument(
    instruments: Catalog, selection: Selection, names: list[str]
) -> None:
    assert selected(instruments, selection) == names


def test_instrument_is_compared_as_sources_compare_it(instruments: Catalog) -> None:
    assert selected(instruments, Selection(instrument="eui")) == ["eui_in", "eui_out"]


# --- rediscovery by listed version ---------------------------------------------------------


def _download(catalog: Catalog, when: datetime) -> int:
    [claimed] = catalog.claim_batch("w", 1, now=when, lease_seconds=60)
    assert catalog.complete(
        claimed.id, "w", now=when, size=10, sha256="a" * 64, validator='"etag-1"'
    )
    return claimed.id


def test_rediscovery_with_the_same_version_is_known(catalog: Catalog) -> None:
    listed = spec(obs=(at(10), None), version='"v1"')
    assert catalog.register([listed], "/d", now=at(0)) == RegisterResult(new=1)
    file_id = _download(catalog, at(1))
    before = catalog.get(file_id)
    assert catalog.register([listed], "/d", now=at(2)) == RegisterResult(known=1)
    assert catalog.get(file_id) == before
    assert before is not None and before.remote_version == '"v1"'


def test_rediscovery_without_a_version_is_known(catalog: Catalog) -> None:
    catalog.register([spec(version='"v1"')], "/d", now=at(0))
    file_id = _download(catalog, at(1))
    assert catalog.register([spec(version=None)], "/d", now=at(2)) == RegisterResult(known=1)
    record = catalog.get(file_id)
    assert record is not None
    assert record.state is FileState.DOWNLOADED and record.remote_version == '"v1"'


def test_a_first_version_is_filled_in_not_a_change(catalog: Catalog) -> None:
    catalog.register([spec(version=None)], "/d", now=at(0))
    file_id = _download(catalog, at(1))
    assert catalog.register([spec(version='"v1"')], "/d", now=at(2)) == RegisterResult(known=1)
    record = catalog.get(file_id)
    assert record is not None
    assert record.state is FileState.DOWNLOADED and record.remote_version == '"v1"'


def test_rediscovery_with_another_version_is_changed_and_downloads_again(
    catalog: Catalog,
) -> None:
    listed = spec(obs=(at(10), None), version='"v1"')
    catalog.register([listed, spec("other", version='"o1"')], "/d", now=at(0))
    file_id = _download(catalog, at(1))
    downloaded = catalog.get(file_id)
    assert downloaded is not None and downloaded.state is FileState.DOWNLOADED
    assert downloaded.downloaded_at == at(1)

    result = catalog.register(
        [replace(listed, version='"v2"'), spec("other", version='"o1"')], "/d", now=at(2)
    )
    assert result == RegisterResult(known=1, changed=1)
    record = catalog.get(file_id)
    assert record is not None
    assert record.state is FileState.DISCOVERED
    assert record.remote_version == '"v2"'
    assert (record.sha256, record.validator, record.downloaded_at) == (None, None, None)
    assert record.updated_at == at(2)
    # It is due again, and no longer counted as downloaded.
    assert catalog.count_files(Selection(states=frozenset({FileState.DOWNLOADED}))) == 0
    assert catalog.status_summary() == catalog.recount_totals()
    due = catalog.claim_batch("w", 5, now=at(3), lease_seconds=60)
    assert file_id in {record.id for record in due}
