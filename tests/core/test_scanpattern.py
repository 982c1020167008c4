"""Scan patterns: what they match, what they capture, what they refuse, and pruning."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyhaul.core.scanpattern import ScanPattern

LAYOUT = "{obs_unit}/{instrument_module}/**"


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        (LAYOUT, "eou-7/cam-a/f.dat", ("eou-7", "cam-a")),
        (LAYOUT, "eou-7/cam-a/scan-1/deep/f.dat", ("eou-7", "cam-a")),
        (LAYOUT, "eou-7/cam-a", None),  # a trailing ** needs at least one component
        (LAYOUT, "eou-7", None),
        ("**/eou-{obs_unit}/{instrument_module}_*.fits", "eou-3/m1_x.fits", ("3", "m1")),
        ("**/eou-{obs_unit}/{instrument_module}_*.fits", "a/b/eou-3/m1_.fits", ("3", "m1")),
        ("**/eou-{obs_unit}/{instrument_module}_*.fits", "a/eou-3/m1_x.fits.gz", None),
        ("raw/{obs_unit}/**/{instrument_module}.bin", "raw/u/m.bin", ("u", "m")),
        ("raw/{obs_unit}/**/{instrument_module}.bin", "raw/u/x/y/m.bin", ("u", "m")),
        ("raw/{obs_unit}/**/{instrument_module}.bin", "cooked/u/m.bin", None),
        ("{obs_unit}/m?d-{instrument_module}/*", "u/mod-2/f", ("u", "2")),
        ("{obs_unit}/m?d-{instrument_module}/*", "u/mood-2/f", None),
        ("{obs_unit}/m?d-{instrument_module}/*", "u/mod-2/sub/f", None),  # * stays in a component
        ("{obs_unit}.x/{instrument_module}/*", "u.x/m/f", ("u", "m")),
        ("{obs_unit}.x/{instrument_module}/*", "uax/m/f", None),  # '.' is literal
    ],
)
def test_match(pattern: str, path: str, expected: tuple[str, str] | None) -> None:
    found = ScanPattern.parse(pattern).match(path)
    if expected is None:
        assert found is None
    else:
        assert found == {"obs_unit": expected[0], "instrument_module": expected[1]}


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ("/{obs_unit}/{instrument_module}/*", "must be relative"),
        ("{obs_unit}/*", "must name {instrument_module}"),
        ("*/*", "must name {obs_unit} and {instrument_module}"),
        ("{obs_unit}/{module}/*", "unknown field {module}"),
        ("{obs_unit}/{instrument_module}/{obs_unit}", "appears twice"),
        ("{obs_unit}{instrument_module}/*", "side by side"),
        ("{obs_unit}/{instrument_module}/a**", "'**' must be a whole segment"),
        ("{obs_unit}//{instrument_module}", "an empty segment"),
        ("{obs_unit}/../{instrument_module}", "a '..' segment"),
        ("./{obs_unit}/{instrument_module}", "a '.' segment"),
        ("{obs_unit/{instrument_module}", "unbalanced brace"),
        ("{obs_unit}}/{instrument_module}", "unbalanced brace"),
    ],
)
def test_bad_patterns_are_one_line_value_errors(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match="scan pattern") as excinfo:
        ScanPattern.parse(pattern)
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("pattern", "directory", "expected"),
    [
        (LAYOUT, "", True),
        (LAYOUT, "u", True),
        (LAYOUT, "u/m", True),
        (LAYOUT, "u/m/deep/er", True),
        ("raw/{obs_unit}/{instrument_module}/*", "cooked", False),
        ("raw/{obs_unit}/{instrument_module}/*", "raw/u/m", True),
        ("raw/{obs_unit}/{instrument_module}/*", "raw/u/m/sub", False),  # too deep
        ("**/eou-{obs_unit}/{instrument_module}.x", "any/depth/at/all", True),
    ],
)
def test_may_contain_prunes_only_hopeless_directories(
    pattern: str, directory: str, expected: bool
) -> None:
    assert ScanPattern.parse(pattern).may_contain(directory) is expected


_COMPONENT = st.text(alphabet="ab-._x1", min_size=1, max_size=4).filter(
    lambda c: c not in (".", "..")
)
_SEGMENT = st.sampled_from(["*", "**", "a*", "?", "x", "{obs_unit}", "{instrument_module}"])


@st.composite
def _patterns(draw: st.DrawFn) -> ScanPattern:
    segments = draw(st.lists(_SEGMENT, min_size=0, max_size=4))
    segments = [s for s in segments if not s.startswith("{")]
    for field in ("{obs_unit}", "{instrument_module}"):
        segments.insert(draw(st.integers(0, len(segments))), field)
    return ScanPattern.parse("/".join(segments))


@settings(max_examples=300, deadline=None)
@given(pattern=_patterns(), path=st.lists(_COMPONENT, min_size=1, max_size=6))
def test_a_matching_path_is_never_pruned(pattern: ScanPattern, path: list[str]) -> None:
    found = pattern.match("/".join(path))
    if found is None:
        return
    for depth in range(len(path)):
        assert pattern.may_contain("/".join(path[:depth])), (pattern.text, path, depth)
    assert set(found) == {"obs_unit", "instrument_module"}
    assert all(value and "/" not in value for value in found.values())


@settings(max_examples=200, deadline=None)
@given(
    unit=_COMPONENT,
    module=_COMPONENT,
    rest=st.lists(_COMPONENT, min_size=1, max_size=4),
)
def test_the_layout_pattern_reads_back_its_fields(unit: str, module: str, rest: list[str]) -> None:
    path = "/".join([unit, module, *rest])
    assert ScanPattern.parse(LAYOUT).match(path) == {"obs_unit": unit, "instrument_module": module}
