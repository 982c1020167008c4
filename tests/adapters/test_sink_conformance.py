"""The sink contract (``skyhaul.ports.sink``), run against every sink implementation.

A new sink (an object-store multipart upload, say) is proven by adding it to ``SINKS``:
the transfer relies on nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from skyhaul.adapters.sinks import LocalSinks
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileRecord
from skyhaul.errors import PathEscapeError
from skyhaul.ports.sink import Sink, Sinks

#: What a sink test needs: the sinks, and a way to read back what a committed file holds.
Made = tuple[Sinks, Callable[[FileRecord], bytes | None]]


def _local(root: Path) -> Made:
    def committed(record: FileRecord) -> bytes | None:
        final = Path(record.dest_root) / record.path
        return final.read_bytes() if final.exists() else None

    return LocalSinks(), committed


SINKS = {"local part file": _local}


@pytest.fixture(params=sorted(SINKS))
def sinks(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Made]:
    yield SINKS[request.param](tmp_path)


def record(tmp_path: Path, path: str = "dir/f.bin") -> FileRecord:
    return FileRecord(1, "https://a.example/f.bin", path, str(tmp_path), FileState.DOWNLOADING)


def write(sink: Sink, offset: int, data: bytes) -> None:
    sink.write_many_at(offset, [data[: len(data) // 2], data[len(data) // 2 :]])


async def test_ranges_written_out_of_order_commit_as_one_file(sinks: Made, tmp_path: Path) -> None:
    made, committed = sinks
    wanted = record(tmp_path)
    sink = made.for_file(wanted)
    sink.open(truncate=True)
    sink.truncate(12)
    write(sink, 8, b"IJKL")
    write(sink, 0, b"ABCD")
    write(sink, 4, b"EFGH")
    assert sink.read_at(2, 4) == b"CDEF"
    assert sink.size() == 12
    sink.sync()
    assert committed(wanted) is None  # nothing under the final name before commit
    await sink.commit()
    assert committed(wanted) == b"ABCDEFGHIJKL"


async def test_bytes_left_by_an_attempt_are_found_again(sinks: Made, tmp_path: Path) -> None:
    made, _ = sinks
    first = made.for_file(record(tmp_path))
    first.open(truncate=True)
    write(first, 0, b"0123456789")
    first.sync()
    first.close()
    again = made.for_file(record(tmp_path))
    assert again.existing_size() == 10
    again.open(truncate=False)
    assert again.read_at(0, 10) == b"0123456789"
    again.open(truncate=True)  # starting again from byte 0
    assert again.size() == 0
    again.close()


async def test_discarded_bytes_are_gone_and_never_committed(sinks: Made, tmp_path: Path) -> None:
    made, committed = sinks
    wanted = record(tmp_path)
    sink = made.for_file(wanted)
    sink.open(truncate=True)
    write(sink, 0, b"corrupt!")
    sink.discard()
    assert not sink.is_open
    assert made.for_file(wanted).existing_size() == 0
    assert committed(wanted) is None


def test_a_destination_outside_its_root_is_refused(sinks: Made, tmp_path: Path) -> None:
    made, _ = sinks
    with pytest.raises(PathEscapeError):
        made.for_file(record(tmp_path, "../outside.bin"))


def test_a_sink_opened_and_closed_without_a_write_leaves_nothing(
    sinks: Made, tmp_path: Path
) -> None:
    # A request refused (404, 401, a redirect loop) before any byte came.
    made, committed = sinks
    wanted = record(tmp_path)
    sink = made.for_file(wanted)
    sink.open(truncate=True)
    sink.close()
    assert made.for_file(wanted).existing_size() == 0
    assert committed(wanted) is None
    assert not [p for p in tmp_path.rglob("*") if not p.is_dir()]
