from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyhaul.core.packages import (
    PACKAGE_STATES,
    PackageEvent,
    PackageState,
    RawFile,
    next_package_state,
    package_name,
    plan_packages,
)
from skyhaul.errors import IllegalTransitionError

NOW = datetime(2025, 3, 1, tzinfo=UTC)
S = PackageState
E = PackageEvent


def raw(
    file_id: int,
    path: str,
    size: int,
    unit: str = "u1",
    module: str = "m1",
    package_id: int | None = None,
) -> RawFile:
    return RawFile(file_id, 1, path, size, "0" * 64, unit, module, NOW, package_id)


# --- the state table -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "final"),
    [
        ([E.START_TRANSFER, E.ARCHIVED], S.ARCHIVED),
        ([E.START_TRANSFER, E.FAILED, E.RETRY], S.WAITING),
        ([E.FAILED, E.RETRY, E.START_TRANSFER], S.TRANSFERRING),
    ],
)
def test_packages_move_through_the_table(events: list[PackageEvent], final: PackageState) -> None:
    state = S.WAITING
    for event in events:
        state = next_package_state(state, event)
    assert state is final


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (S.WAITING, E.ARCHIVED),
        (S.ARCHIVED, E.FAILED),
        (S.ARCHIVED, E.RETRY),
        (S.FAILED, E.ARCHIVED),
    ],
)
def test_illegal_package_transitions_raise(state: PackageState, event: PackageEvent) -> None:
    with pytest.raises(IllegalTransitionError):
        next_package_state(state, event)


def test_an_archived_package_never_leaves_archived() -> None:
    assert not [pair for pair in PACKAGE_STATES.transitions if pair[0] is S.ARCHIVED]


# --- planning --------------------------------------------------------------------------


def test_files_are_grouped_by_unit_and_module_and_sorted_by_path() -> None:
    files = [
        raw(1, "u1/m1/b", 10),
        raw(2, "u1/m1/a", 10),
        raw(3, "u1/m2/a", 10, module="m2"),
        raw(4, "u2/m1/a", 10, unit="u2"),
        raw(5, "u1/m1/c", 10, package_id=7),  # packaged already: left out
    ]
    plans = plan_packages(files, 100)
    assert [(p.name, [f.id for f in p.files]) for p in plans] == [
        ("u1_m1_001.tar", [2, 1]),
        ("u1_m2_001.tar", [3]),
        ("u2_m1_001.tar", [4]),
    ]
    assert plans[0].size == 20


def test_a_group_is_split_greedily_and_an_oversized_file_goes_alone() -> None:
    files = [raw(i, f"f{i}", size) for i, size in enumerate([4, 4, 3, 12, 1, 9])]
    plans = plan_packages(files, 10)
    assert [[f.size for f in p.files] for p in plans] == [[4, 4], [3], [12], [1, 9]]
    assert [p.name for p in plans] == [f"u1_m1_{n:03d}.tar" for n in (1, 2, 3, 4)]


def test_names_skip_those_taken_and_unsafe_characters_are_replaced() -> None:
    files = [
        raw(1, "a", 5, unit="obs 7/x", module="m:1"),
        raw(2, "b", 5, unit="obs 7/x", module="m:1"),
    ]
    plans = plan_packages(files, 5, taken={"obs_7_x_m_1_001.tar", "obs_7_x_m_1_003.tar"})
    assert [p.name for p in plans] == ["obs_7_x_m_1_002.tar", "obs_7_x_m_1_004.tar"]
    assert package_name("u", "m", 12) == "u_m_012.tar"


def test_two_groups_that_read_alike_never_share_a_name() -> None:
    files = [raw(1, "a", 1, unit="a b"), raw(2, "a", 1, unit="a_b")]
    names = [p.name for p in plan_packages(files, 100)]
    assert len(set(names)) == 2


def test_max_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_size"):
        plan_packages([], 0)


@st.composite
def raw_files(draw: st.DrawFn) -> list[RawFile]:
    count = draw(st.integers(0, 40))
    files = []
    for i in range(count):
        files.append(
            raw(
                i,
                draw(st.text("abc/", min_size=1, max_size=6)) + f"#{i}",
                draw(st.integers(0, 50)),
                unit=draw(st.sampled_from(["u1", "u2"])),
                module=draw(st.sampled_from(["m1", "m2", "m3"])),
                package_id=draw(st.none() | st.just(99)),
            )
        )
    return files


@settings(max_examples=100, deadline=None)
@given(files=raw_files(), max_size=st.integers(1, 120))
def test_planning_never_loses_nor_duplicates_a_file(files: list[RawFile], max_size: int) -> None:
    plans = plan_packages(files, max_size)
    planned = [f.id for plan in plans for f in plan.files]
    assert sorted(planned) == sorted(f.id for f in files if f.package_id is None)
    assert len({plan.name for plan in plans}) == len(plans)
    for plan in plans:
        assert plan.files, "no empty package"
        assert {(f.obs_unit, f.instrument_module) for f in plan.files} == {
            (plan.obs_unit, plan.instrument_module)
        }
        assert [f.path for f in plan.files] == sorted(f.path for f in plan.files)
        assert plan.size <= max_size or len(plan.files) == 1


@settings(max_examples=50, deadline=None)
@given(files=raw_files(), max_size=st.integers(1, 120))
def test_planning_is_deterministic(files: list[RawFile], max_size: int) -> None:
    assert plan_packages(files, max_size) == plan_packages(list(reversed(files)), max_size)
