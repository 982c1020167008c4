"""The resume and range rules, driven as a table: answers in, verdicts out."""

from __future__ import annotations

import itertools

import pytest

from skyhaul.core.ranges import ByteRange, ContentRange
from skyhaul.core.resume import TABLE, Answer, AnswerFacts, Asked, Verdict, classify, decide

MiB = 1 << 20
SIZE = 100 * MiB


def test_the_table_is_total() -> None:
    assert set(TABLE) == set(itertools.product(Asked, Answer))


def ok_206(
    start: int, end: int, total: int | None = SIZE, validator: str | None = '"v1"'
) -> AnswerFacts:
    return AnswerFacts(True, ContentRange(start, end, total), total, validator)


def full(size: int | None = SIZE, validator: str | None = '"v1"') -> AnswerFacts:
    return AnswerFacts(False, None, size, validator)


# Short names keep one scenario on one line: ranges in MiB, answers and verdicts by name.
W, P, R, S = Asked.WHOLE, Asked.PROBE, Asked.RESUME, Asked.SWITCH
V1 = '"v1"'


def mib(start: int, end: int) -> ByteRange:
    return ByteRange(start * MiB, end * MiB)


def part(start: int, end: int, total: int | None = SIZE, validator: str | None = V1) -> AnswerFacts:
    return AnswerFacts(True, ContentRange(start * MiB, end * MiB, total), total, validator)


#: (what happened, asked, answer, range asked, size known, validator known, class, verdict)
# fmt: off
SCENARIOS = [
    ("small file, 200", W, full(10), None, 10, None, "FULL", "STREAM_WHOLE"),
    ("small file of unknown size", W, full(10), None, None, None, "FULL", "STREAM_WHOLE"),
    ("small file, another size", W, full(11), None, 10, None, "SIZE_DIFFERS", "DROP_SOURCE"),
    ("probe ignored: a 200", P, full(), mib(0, 8), None, None, "FULL", "STREAM_WHOLE"),
    ("probe of a small file", P, part(0, 5, 5 * MiB), mib(0, 8), None, None, "RANGE_WHOLE", "STREAM_WHOLE"),
    ("probe where asked", P, part(0, 8), mib(0, 8), None, None, "RANGE_EXACT", "WRITE_RANGE"),
    ("probe shorter than asked", P, part(0, 4), mib(0, 8), SIZE, None, "RANGE_EXACT", "WRITE_RANGE"),
    ("probe from elsewhere", P, part(1, 8), mib(0, 8), None, None, "RANGE_MISPLACED", "FAIL_INTEGRITY"),
    ("probe past the range", P, part(0, 9), mib(0, 8), None, None, "RANGE_MISPLACED", "FAIL_INTEGRITY"),
    ("probe without a total", P, part(0, 8, None), mib(0, 8), None, None, "RANGE_UNSIZED", "FAIL_INTEGRITY"),
    ("probe, manifest size differs", P, part(0, 8), mib(0, 8), SIZE + 1, None, "SIZE_DIFFERS", "DROP_SOURCE"),
    ("resume honoured", R, part(8, 16), mib(8, 16), SIZE, V1, "RANGE_EXACT", "WRITE_RANGE"),
    ("resume: If-Range failed", R, full(), mib(8, 16), SIZE, V1, "FULL", "RESTART"),
    ("resume: size changed", R, part(8, 16, SIZE + 5), mib(8, 16), SIZE, V1, "SIZE_DIFFERS", "FAIL_CHANGED"),
    ("resume: new validator", R, part(8, 16, validator='"v2"'), mib(8, 16), SIZE, V1, "VALIDATOR_CHANGED", "FAIL_CHANGED"),
    ("resume: no validator", R, part(8, 16, validator=None), mib(8, 16), SIZE, V1, "VALIDATOR_MISSING", "RESTART"),
    ("resume: no validator, no total", R, part(8, 16, None, None), mib(8, 16), SIZE, V1, "VALIDATOR_MISSING", "RESTART"),
    ("resume: wrong offset", R, part(0, 8), mib(8, 16), SIZE, V1, "RANGE_MISPLACED", "FAIL_INTEGRITY"),
    ("resume: no total", R, part(8, 16, None), mib(8, 16), SIZE, V1, "RANGE_UNSIZED", "WRITE_RANGE"),
    ("switch: same file", S, part(8, 16, validator='"m"'), mib(8, 16), SIZE, None, "RANGE_EXACT", "WRITE_RANGE"),
    ("switch: other size", S, part(8, 16, SIZE - 1), mib(8, 16), SIZE, None, "SIZE_DIFFERS", "DROP_SOURCE"),
    ("switch: ranges ignored", S, full(), mib(8, 16), SIZE, None, "FULL", "RESTART"),
    ("switch: no total", S, part(8, 16, None), mib(8, 16), SIZE, None, "RANGE_UNSIZED", "DROP_SOURCE"),
]
# fmt: on


@pytest.mark.parametrize(
    ("asked", "facts", "wanted", "size", "validator", "answer", "verdict"),
    [s[1:] for s in SCENARIOS],
    ids=[s[0] for s in SCENARIOS],
)
def test_scenarios(
    asked: Asked,
    facts: AnswerFacts,
    wanted: ByteRange | None,
    size: int | None,
    validator: str | None,
    answer: str,
    verdict: str,
) -> None:
    got = classify(asked, facts, wanted=wanted, known_size=size, known_validator=validator)
    assert got is Answer[answer]
    assert decide(asked, got) is Verdict[verdict]


@pytest.mark.parametrize(
    ("digest", "answer", "verdict"),
    [
        ("sha256:bb", Answer.DIGEST_DIFFERS, Verdict.DROP_SOURCE),
        ("sha256:AA", Answer.RANGE_EXACT, Verdict.WRITE_RANGE),
        # An md5 and a sha256 of one file differ as strings: they are not compared.
        ("md5:bb", Answer.RANGE_EXACT, Verdict.WRITE_RANGE),
    ],
)
def test_a_switch_compares_the_digest_another_source_announced(
    digest: str, answer: Answer, verdict: Verdict
) -> None:
    facts = AnswerFacts(True, ContentRange(0, MiB, SIZE), SIZE, '"m"', digest=digest)
    got = classify(
        Asked.SWITCH,
        facts,
        wanted=ByteRange(0, MiB),
        known_size=SIZE,
        known_validator=None,
        known_digest="sha256:aa",
    )
    assert got is answer
    assert decide(Asked.SWITCH, got) is verdict


@pytest.mark.parametrize("asked", [Asked.WHOLE, Asked.PROBE, Asked.SWITCH])
def test_a_first_answer_of_another_size_drops_its_source(asked: Asked) -> None:
    # Not the file asked for (the manifest's size, or the size another source gave):
    # the next source is tried; a file without one fails as integrity.
    assert decide(asked, Answer.SIZE_DIFFERS) is Verdict.DROP_SOURCE


@pytest.mark.parametrize("asked", list(Asked))
def test_a_412_or_416_never_writes(asked: Asked) -> None:
    for answer in (Answer.PRECONDITION_FAILED, Answer.UNSATISFIABLE):
        assert decide(asked, answer) not in (Verdict.WRITE_RANGE, Verdict.STREAM_WHOLE)


def test_a_changed_object_store_validator_restarts_a_resume_at_once() -> None:
    assert decide(Asked.RESUME, Answer.PRECONDITION_FAILED) is Verdict.RESTART


@pytest.mark.parametrize("asked", list(Asked))
def test_a_misplaced_range_is_never_written(asked: Asked) -> None:
    assert decide(asked, Answer.RANGE_MISPLACED) is Verdict.FAIL_INTEGRITY


@pytest.mark.parametrize("answer", [Answer.VALIDATOR_MISSING, Answer.VALIDATOR_CHANGED])
def test_once_a_validator_is_recorded_a_range_without_it_or_with_another_is_never_written(
    answer: Answer,
) -> None:
    # A server that drops the ETag from its 206s may also ignore If-Range: its bytes could
    # belong to another version of the file, and splicing them would make a file that
    # never existed (promoted when no checksum is expected). The file starts again.
    assert decide(Asked.RESUME, answer) in (Verdict.RESTART, Verdict.FAIL_CHANGED)
