"""The availability chart (PNG), page (HTML) and table rows, written to a real disk."""

from __future__ import annotations

import base64
import struct
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from skyhaul.adapters.availability_chart import (
    MISSING,
    render_html,
    render_png,
    render_png_bytes,
    render_table,
    summary_lines,
    table_header,
)
from skyhaul.core.availability import (
    FILES,
    NO_FILES,
    NOT_RUN,
    AvailabilityDay,
    summarize,
)
from skyhaul.errors import UsageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
D1, D2, D3, D4, D5, D6 = (date(2024, 3, n) for n in range(1, 7))

RECORD_ROWS = [
    AvailabilityDay(D1, "DOWNLOADED", 1440, 1440, 100.0),
    AvailabilityDay(D2, "DOWNLOADED", 1296, 1440, 90.0),
    AvailabilityDay(D3, "SKIPPED_NO_DATA", 0, 1440, 0.0),
    AvailabilityDay(D4, "FAILED", None, 1440, None),
    AvailabilityDay(D5, "PENDING", None, None, None),
    AvailabilityDay(D6, NOT_RUN, None, None, None),
]
FILE_ROWS = [
    AvailabilityDay(D1, FILES, 3, 4, 75.0),
    AvailabilityDay(D2, NO_FILES, None, None, None),
]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def assert_real_chart(data: bytes) -> None:
    width, height = png_size(data)
    assert width >= 400 and height >= 200
    assert len(data) > 5_000  # axes, bars and text, not a blank canvas


def days_from(first: date, n: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


# --- PNG -------------------------------------------------------------------------------


def test_png_is_written_and_is_a_real_image(tmp_path: Path) -> None:
    path = tmp_path / "availability.png"
    render_png(RECORD_ROWS, path, title="reach availability")
    assert_real_chart(path.read_bytes())
    assert [p.name for p in tmp_path.iterdir()] == ["availability.png"]


@pytest.mark.parametrize("n_days", [1, 3, 45, 400, 3 * 366])
def test_png_draws_ranges_from_one_day_to_several_years(n_days: int) -> None:
    rows = [
        AvailabilityDay(day, "DOWNLOADED", 90 + i % 20, 100, float(90 + i % 20))
        if i % 7
        else AvailabilityDay(day, NOT_RUN, None, None, None)
        for i, day in enumerate(days_from(date(2022, 12, 30), n_days))
    ]
    assert_real_chart(render_png_bytes(rows, title=f"{n_days} days"))


def test_png_draws_file_rows_and_an_empty_range() -> None:
    assert_real_chart(render_png_bytes(FILE_ROWS, title="files"))
    assert_real_chart(render_png_bytes([], title="nothing"))


def test_png_title_is_literal_text_not_mathtext() -> None:
    # Unbalanced mathtext would raise while drawing if the title were parsed as math.
    assert_real_chart(render_png_bytes(RECORD_ROWS, title=r"cost $\frac{1}{$ and $"))


def test_png_of_an_unknown_status_is_still_drawn() -> None:
    rows = [AvailabilityDay(D1, "SOMETHING_NEW", None, None, None)]
    assert_real_chart(render_png_bytes(rows, title="new"))


def test_png_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    path.write_bytes(b"old")
    render_png(RECORD_ROWS, path, title="t")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert [p.name for p in tmp_path.iterdir()] == ["chart.png"]


def test_importing_the_module_does_not_import_matplotlib() -> None:
    probe = (
        "import sys, skyhaul.adapters.availability_chart; "
        "print(any(m.split('.')[0] == 'matplotlib' for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


# --- HTML ------------------------------------------------------------------------------


def test_html_holds_the_summary_and_a_row_per_day(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    render_html(RECORD_ROWS, path, title="reach", png=None)
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<th>records</th><th>expected</th>" in page
    assert '<tr><td>2024-03-01</td><td>DOWNLOADED</td><td class="num">1,440</td>' in page
    assert '<tr class="low"><td>2024-03-03</td><td>SKIPPED_NO_DATA</td>' in page
    assert "<td>2024-03-06</td><td>NOT_RUN</td>" in page
    assert page.count("<tr") == 1 + len(RECORD_ROWS)
    for line in summary_lines(summarize(RECORD_ROWS)):
        assert f"<li>{line}</li>" in page
    assert "<img" not in page


def test_html_of_file_rows_names_files_and_discovered(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    render_html(FILE_ROWS, path, title="files", png=None)
    page = path.read_text(encoding="utf-8")
    assert "<th>files</th><th>discovered</th>" in page
    assert "<li>files: 3 of 4 discovered (75.0%)</li>" in page


def test_html_escapes_a_hostile_title_and_status(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    rows = [AvailabilityDay(D1, "<img src=x onerror=alert(1)>", None, None, None)]
    render_html(rows, path, title="<script>alert('x')</script> & co", png=None)
    page = path.read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "<img src=x" not in page
    assert "<title>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co</title>" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_html_embeds_the_png_and_loads_nothing_from_elsewhere(tmp_path: Path) -> None:
    png = render_png_bytes(RECORD_ROWS, title="t")
    path = tmp_path / "report.html"
    render_html(RECORD_ROWS, path, title="t", png=png)
    page = path.read_text(encoding="utf-8")
    prefix = 'src="data:image/png;base64,'
    start = page.index(prefix) + len(prefix)
    embedded = page[start : page.index('"', start)]
    assert base64.b64decode(embedded) == png
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<script" not in page


def test_html_threshold_marks_the_low_days(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    render_html(RECORD_ROWS, path, title="t", png=None, threshold=95.0)
    page = path.read_text(encoding="utf-8")
    assert page.count('<tr class="low">') == 2  # 90 % and 0 %
    assert "days below 95%: 2024-03-02, 2024-03-03" in page


def test_html_of_no_rows_is_still_a_page(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    render_html([], path, title="empty", png=None)
    page = path.read_text(encoding="utf-8")
    assert "<li>days: 0 (0 with data)</li>" in page
    assert "</html>" in page


# --- writing errors ---------------------------------------------------------------------


def error_writing(path: Path, write: str) -> str:
    with pytest.raises(UsageError) as excinfo:
        if write == "png":
            render_png(RECORD_ROWS, path, title="t")
        else:
            render_html(RECORD_ROWS, path, title="t", png=None)
    message = str(excinfo.value)
    assert "\n" not in message
    assert str(path) in message
    return message


@pytest.mark.parametrize("write", ["png", "html"])
def test_a_missing_directory_is_a_usage_error(tmp_path: Path, write: str) -> None:
    error_writing(tmp_path / "missing" / "out", write)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("write", ["png", "html"])
def test_a_destination_that_is_a_directory_is_a_usage_error_and_leaves_no_temp_file(
    tmp_path: Path, write: str
) -> None:
    # The temporary file is created, then the rename over a directory fails.
    (tmp_path / "out").mkdir()
    error_writing(tmp_path / "out", write)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_an_unwritable_directory_is_a_usage_error(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes through directory permissions")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        message = error_writing(locked / "chart.png", "png")
        assert "ermission" in message
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


# --- table rows ------------------------------------------------------------------------


def test_table_rows_are_plain_text_with_missing_values_marked() -> None:
    assert table_header(RECORD_ROWS) == ("date", "status", "records", "expected", "%")
    assert render_table(RECORD_ROWS) == [
        ("2024-03-01", "DOWNLOADED", "1,440", "1,440", "100.0%"),
        ("2024-03-02", "DOWNLOADED", "1,296", "1,440", "90.0%"),
        ("2024-03-03", "SKIPPED_NO_DATA", "0", "1,440", "0.0%"),
        ("2024-03-04", "FAILED", MISSING, "1,440", MISSING),
        ("2024-03-05", "PENDING", MISSING, MISSING, MISSING),
        ("2024-03-06", NOT_RUN, MISSING, MISSING, MISSING),
    ]


def test_table_of_file_rows() -> None:
    assert table_header(FILE_ROWS) == ("date", "status", "files", "discovered", "%")
    assert render_table(FILE_ROWS) == [
        ("2024-03-01", FILES, "3", "4", "75.0%"),
        ("2024-03-02", NO_FILES, MISSING, MISSING, MISSING),
    ]


def test_summary_lines() -> None:
    assert summary_lines(summarize(RECORD_ROWS)) == [
        "days: 6 (2 with data)",
        "records: 2,736 of 5,760 expected (47.5%)",
        "daily availability: mean 63.3%, min 0.0%",
        "days below 90%: 2024-03-03",
        "days by status: DOWNLOADED 2, SKIPPED_NO_DATA 1, PENDING 1, FAILED 1, NOT_RUN 1",
    ]


def test_summary_lines_list_at_most_ten_low_days() -> None:
    rows = [AvailabilityDay(day, FILES, 0, 1, 0.0) for day in days_from(D1, 13)]
    (below,) = [line for line in summary_lines(summarize(rows), files=True) if "below" in line]
    assert below.endswith("2024-03-10, and 3 more")
    assert summary_lines(summarize([]))[-2:] == ["days below 90%: none", "days by status: none"]
