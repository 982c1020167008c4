"""What an answer to a file request means, and what the transfer does next: one table.

Rules:
- A request is one of four kinds (``Asked``): the whole file; a *probe* (the first range
  of a file, to learn its size and validator); a *resume* (a range sent with the
  validator of the durable bytes, as ``If-Range`` or ``If-Match``); a *switch* (a range
  from another source of the file, whose validator is not known yet, while durable bytes
  from an earlier source are kept).
- An answer is classified once (``classify``) into an ``Answer``: a 200, a 206 of the
  whole file, a 206 exactly where asked, a 206 somewhere else, a 206 without a total,
  a size or announced digest that differs from the one known, a validator that differs,
  a validator that is missing, a 412, a 416.
- ``TABLE`` maps every (request, answer) pair to a ``Verdict``, and ``decide`` reads it;
  there is no other place where these rules live. The services module that streams
  bytes asks; it never decides.
- Verdicts: write the body as the whole file from byte 0; write it into the range asked;
  restart (forget the durable bytes and ask for the whole file again, now); fail the
  attempt as ``integrity`` (an answer we cannot trust); fail it as ``changed`` (the
  remote file changed: its durable bytes are forgotten and the next attempt starts from
  byte 0); or drop this source for this file (it is not the same file as the others).
- A source's first answer (whole, probe or switch) with another size than the one
  expected (the manifest's, or the one an earlier source gave) holds another file: it
  is dropped, and the next source is tried; a file with no source left fails as
  ``integrity``. Once a source has served bytes, a new size means the file changed.
- Digests are compared only when both are of one algorithm (an md5 and a sha256 of one
  file differ as strings).
- Once a validator is recorded, a 206 must carry it: one without it (the server may
  ignore ``If-Range`` as well) or with another may hold another version's bytes, and
  splicing them would make a file that never existed. Without a validator it restarts
  the file (one whole answer follows); with another, the file changed. Validators are
  checked before the total, so a resume's 206 without a total is written only when its
  validator matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from skyhaul.core.ranges import ByteRange, ContentRange

__all__ = [
    "TABLE",
    "Answer",
    "AnswerFacts",
    "Asked",
    "Verdict",
    "classify",
    "decide",
]


class Asked(StrEnum):
    """The kind of request a transfer sent."""

    WHOLE = "whole"
    """No range: the whole file (files up to one segment)."""
    PROBE = "probe"
    """The first range of a file, without a validator, to learn its size and validator."""
    RESUME = "resume"
    """A range sent with the validator the durable bytes belong to."""
    SWITCH = "switch"
    """A range from a further source, whose validator is not known yet."""


class Answer(StrEnum):
    """What came back, classified against what was asked and what is known."""

    FULL = "full"
    """A 200: the whole representation (the range was ignored or not asked)."""
    RANGE_WHOLE = "range_whole"
    """A 206 whose Content-Range is the whole file, from byte 0."""
    RANGE_EXACT = "range_exact"
    """A 206 starting where asked and ending within the range asked."""
    RANGE_MISPLACED = "range_misplaced"
    """A 206 starting elsewhere, or ending past the range asked."""
    RANGE_UNSIZED = "range_unsized"
    """A 206 whose Content-Range gives no total (``bytes a-b/*``)."""
    SIZE_DIFFERS = "size_differs"
    """The size announced is not the size known (expected, or learned earlier)."""
    DIGEST_DIFFERS = "digest_differs"
    """The whole-file digest announced is not the one another source announced."""
    VALIDATOR_CHANGED = "validator_changed"
    """A 206 carrying another validator than the one the durable bytes belong to."""
    VALIDATOR_MISSING = "validator_missing"
    """A 206 carrying no validator although one was sent with the request."""
    PRECONDITION_FAILED = "precondition_failed"
    """A 412: the validator sent no longer matches (object stores' ``If-Match``)."""
    UNSATISFIABLE = "unsatisfiable"
    """A 416: the range lies past the end of the remote file."""


class Verdict(StrEnum):
    """What the transfer does with an answer."""

    STREAM_WHOLE = "stream_whole"
    """The body is the whole file: write it from byte 0 (durable bytes are forgotten)."""
    WRITE_RANGE = "write_range"
    """Write the body into the range asked."""
    RESTART = "restart"
    """Durable bytes are stale: forget them and ask for the whole file again, now."""
    FAIL_INTEGRITY = "fail_integrity"
    """An answer that cannot be trusted: the attempt fails as ``integrity``."""
    FAIL_CHANGED = "fail_changed"
    """The remote file changed: forget its bytes; the attempt fails as ``changed``."""
    DROP_SOURCE = "drop_source"
    """This source does not hold the same file as the others: continue without it."""


_W, _R, _X = Verdict.STREAM_WHOLE, Verdict.WRITE_RANGE, Verdict.RESTART
_I, _C, _D = Verdict.FAIL_INTEGRITY, Verdict.FAIL_CHANGED, Verdict.DROP_SOURCE
_A = Answer

#: Every (request, answer) pair and its verdict. Pairs that ``classify`` cannot produce
#: for a kind of request (a probe sends no validator, so it never sees one change) are
#: listed too, with the cautious verdict, so that the table is total.
TABLE: dict[tuple[Asked, Answer], Verdict] = {
    # The whole file, no range asked.
    (Asked.WHOLE, _A.FULL): _W,
    (Asked.WHOLE, _A.RANGE_WHOLE): _W,
    (Asked.WHOLE, _A.RANGE_EXACT): _I,
    (Asked.WHOLE, _A.RANGE_MISPLACED): _I,
    (Asked.WHOLE, _A.RANGE_UNSIZED): _I,
    (Asked.WHOLE, _A.SIZE_DIFFERS): _D,  # not the file asked for: try the next source
    (Asked.WHOLE, _A.DIGEST_DIFFERS): _I,
    (Asked.WHOLE, _A.VALIDATOR_CHANGED): _C,
    (Asked.WHOLE, _A.VALIDATOR_MISSING): _W,
    (Asked.WHOLE, _A.PRECONDITION_FAILED): _C,
    (Asked.WHOLE, _A.UNSATISFIABLE): _C,
    # The first range of a file: learn its size and validator.
    (Asked.PROBE, _A.FULL): _W,
    (Asked.PROBE, _A.RANGE_WHOLE): _W,
    (Asked.PROBE, _A.RANGE_EXACT): _R,
    (Asked.PROBE, _A.RANGE_MISPLACED): _I,
    (Asked.PROBE, _A.RANGE_UNSIZED): _I,
    (Asked.PROBE, _A.SIZE_DIFFERS): _D,
    (Asked.PROBE, _A.DIGEST_DIFFERS): _I,
    (Asked.PROBE, _A.VALIDATOR_CHANGED): _C,
    (Asked.PROBE, _A.VALIDATOR_MISSING): _R,
    (Asked.PROBE, _A.PRECONDITION_FAILED): _C,
    (Asked.PROBE, _A.UNSATISFIABLE): _C,
    # A range of a file whose durable bytes have a validator (If-Range / If-Match).
    (Asked.RESUME, _A.FULL): _X,  # the validator no longer matches, or ranges are ignored
    (Asked.RESUME, _A.RANGE_WHOLE): _R,
    (Asked.RESUME, _A.RANGE_EXACT): _R,
    (Asked.RESUME, _A.RANGE_MISPLACED): _I,
    (Asked.RESUME, _A.RANGE_UNSIZED): _R,  # the validator matched; the size is the one known
    (Asked.RESUME, _A.SIZE_DIFFERS): _C,
    (Asked.RESUME, _A.DIGEST_DIFFERS): _C,
    (Asked.RESUME, _A.VALIDATOR_CHANGED): _C,
    (Asked.RESUME, _A.VALIDATOR_MISSING): _X,  # it cannot vouch for its bytes
    (Asked.RESUME, _A.PRECONDITION_FAILED): _X,  # an object store's If-Match: it changed
    (Asked.RESUME, _A.UNSATISFIABLE): _C,
    # A range from a further source while bytes from an earlier one are kept.
    (Asked.SWITCH, _A.FULL): _X,
    (Asked.SWITCH, _A.RANGE_WHOLE): _R,
    (Asked.SWITCH, _A.RANGE_EXACT): _R,
    (Asked.SWITCH, _A.RANGE_MISPLACED): _I,
    (Asked.SWITCH, _A.RANGE_UNSIZED): _D,  # it cannot confirm the size
    (Asked.SWITCH, _A.SIZE_DIFFERS): _D,
    (Asked.SWITCH, _A.DIGEST_DIFFERS): _D,
    (Asked.SWITCH, _A.VALIDATOR_CHANGED): _C,
    (Asked.SWITCH, _A.VALIDATOR_MISSING): _R,
    (Asked.SWITCH, _A.PRECONDITION_FAILED): _X,
    (Asked.SWITCH, _A.UNSATISFIABLE): _D,
}


@dataclass(frozen=True, slots=True)
class AnswerFacts:
    """What an answer said, as far as the table is concerned.

    Parameters
    ----------
    partial : bool
        A 206 (else a 200).
    content_range : ContentRange or None
        The 206's parsed Content-Range.
    size : int or None
        The file's size by this answer (the 206's total, or the 200's length).
    validator : str or None
        The validator the answer carries.
    digest : str or None
        A whole-file digest it announces (``algorithm:hex``).
    """

    partial: bool
    content_range: ContentRange | None = None
    size: int | None = None
    validator: str | None = None
    digest: str | None = None


def classify(
    asked: Asked,
    answer: AnswerFacts,
    *,
    wanted: ByteRange | None,
    known_size: int | None,
    known_validator: str | None,
    known_digest: str | None = None,
) -> Answer:
    """Classify a 200 or 206 answer against the request and what is known of the file.

    Parameters
    ----------
    asked : Asked
        The kind of request.
    answer : AnswerFacts
        What the server said.
    wanted : ByteRange or None
        The range asked (None for a whole-file request).
    known_size : int or None
        The size expected (from the catalog or an earlier answer), if any.
    known_validator : str or None
        The validator sent with the request (a resume), if any.
    known_digest : str or None
        A whole-file digest another answer announced, if any.

    Returns
    -------
    Answer
        Errors (412, 416) are classified by the caller from the error it got.
    """
    if _digests_differ(answer.digest, known_digest):
        return Answer.DIGEST_DIFFERS
    if not answer.partial:
        if known_size is not None and answer.size is not None and answer.size != known_size:
            return Answer.SIZE_DIFFERS
        return Answer.FULL
    content_range = answer.content_range
    if content_range is None or wanted is None:
        return Answer.RANGE_MISPLACED
    if content_range.start != wanted.start or content_range.end > wanted.end:
        return Answer.RANGE_MISPLACED
    total = content_range.total
    if known_size is not None and total is not None and total != known_size:
        return Answer.SIZE_DIFFERS
    if known_validator is not None:
        if answer.validator is None:
            return Answer.VALIDATOR_MISSING
        if answer.validator != known_validator:
            return Answer.VALIDATOR_CHANGED
    if total is None:
        return Answer.RANGE_UNSIZED
    if content_range.start == 0 and content_range.end == total:
        return Answer.RANGE_WHOLE
    return Answer.RANGE_EXACT


def _digests_differ(announced: str | None, known: str | None) -> bool:
    """Two ``algorithm:hex`` digests of one algorithm that differ (else False)."""
    if announced is None or known is None:
        return False
    algorithm, _, value = announced.partition(":")
    known_algorithm, _, known_value = known.partition(":")
    return algorithm == known_algorithm and value.lower() != known_value.lower()


def decide(asked: Asked, answer: Answer) -> Verdict:
    """Return the table's verdict for ``answer`` to a request of kind ``asked``."""
    return TABLE[asked, answer]
