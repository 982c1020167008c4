"""What an answer to one request means for the transfer: the table asked, its verdict acted on.

Rules:
- ``judge`` turns an open answer into the facts ``core.resume`` classifies, asks the
  table, and raises what a refusing verdict means; it returns the verdicts that write
  (the whole file from byte 0, or the range asked). ``refused`` does the same for the
  answers that come as errors (a 412 or a 416).
- Refusals: ``IntegrityError`` (an answer that cannot be trusted), ``RemoteChangedError``
  (the remote file changed), ``Restart`` (the durable bytes are stale: ask the whole file
  again, now) and ``SourceDiffers`` (this source holds another file). The last two never
  leave the transfer.
- Messages are one line, for the attempt log and the user.
"""

from __future__ import annotations

from typing import NoReturn

from skyhaul.core.integrity import Checksum
from skyhaul.core.ranges import ByteRange
from skyhaul.core.resume import Answer, AnswerFacts, Asked, Verdict, classify, decide
from skyhaul.errors import IntegrityError, RemoteChangedError
from skyhaul.ports.transport import Body

__all__ = ["Restart", "SourceDiffers", "judge", "refused"]


class Restart(Exception):
    """The durable bytes are stale: start again from byte 0 with one whole-file request."""


class SourceDiffers(Exception):
    """This source does not hold the same file as the others."""


def judge(
    asked: Asked,
    body: Body,
    wanted: ByteRange | None,
    *,
    known_size: int | None,
    sent: str | None,
    known_digest: Checksum | None,
) -> Verdict:
    """Classify an open answer, ask the table, and raise for a refusing verdict.

    Parameters
    ----------
    asked : Asked
        The kind of request.
    body : Body
        The answer, not read yet.
    wanted : ByteRange or None
        The range asked (None: the whole file).
    known_size : int or None
        The size expected or learned.
    sent : str or None
        The validator sent with the request.
    known_digest : Checksum or None
        A whole-file digest another source announced (for a switch).

    Returns
    -------
    Verdict
        ``STREAM_WHOLE`` or ``WRITE_RANGE``.
    """
    info = body.info
    content_range = body.content_range
    facts = AnswerFacts(
        partial=body.partial,
        content_range=content_range,
        size=content_range.total if content_range is not None else info.size,
        validator=info.validator,
        digest=None if info.digest is None else str(info.digest),
    )
    answer = classify(
        asked,
        facts,
        wanted=wanted,
        known_size=known_size,
        known_validator=sent,
        known_digest=None if known_digest is None else str(known_digest),
    )
    verdict = decide(asked, answer)
    if verdict is not Verdict.STREAM_WHOLE and verdict is not Verdict.WRITE_RANGE:
        _act(verdict, _describe(answer, facts, wanted, known_size))
    return verdict


def refused(asked: Asked, error: RemoteChangedError) -> NoReturn:
    """Act on an answer that came as an error: a 412 (``If-Match``) or a 416."""
    answer = Answer.PRECONDITION_FAILED if error.status == 412 else Answer.UNSATISFIABLE
    _act(decide(asked, answer), error.message)
    raise error


def _act(verdict: Verdict, why: str) -> None:
    """Raise what a refusing verdict means; return for the verdicts that write."""
    if verdict is Verdict.FAIL_INTEGRITY:
        raise IntegrityError(why)
    if verdict is Verdict.FAIL_CHANGED:
        raise RemoteChangedError(why)
    if verdict is Verdict.RESTART:
        raise Restart(why)
    if verdict is Verdict.DROP_SOURCE:
        raise SourceDiffers(why)


def _describe(
    answer: Answer, facts: AnswerFacts, wanted: ByteRange | None, known_size: int | None
) -> str:
    """Say in one line why an answer was refused (for the attempt log and the user)."""
    content_range = facts.content_range
    if answer is Answer.SIZE_DIFFERS:
        return f"size mismatch: expected {known_size} bytes, server has {facts.size}"
    if answer is Answer.RANGE_MISPLACED and content_range is not None and wanted is not None:
        if content_range.start != wanted.start:
            return f"asked bytes from {wanted.start}, server sent from {content_range.start}"
        return f"Content-Range {content_range} exceeds the range asked"
    if answer is Answer.RANGE_MISPLACED:
        return "a range answer to a request for the whole file"
    if answer is Answer.RANGE_UNSIZED:
        return "the server did not say the file's size (Content-Range */)"
    if answer is Answer.VALIDATOR_MISSING:
        return "a range answer without the validator of the bytes kept (ETag)"
    if answer is Answer.VALIDATOR_CHANGED:
        return "remote file changed (new validator)"
    if answer is Answer.DIGEST_DIFFERS:
        return f"the server announces another digest ({facts.digest})"
    if answer is Answer.FULL:
        return "the server answered the whole file to a range request"
    return f"unexpected answer ({answer.value})"
