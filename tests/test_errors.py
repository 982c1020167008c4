"""Every skyhaul error pickles with its attributes (errors cross process boundaries),
and the exit code lives on the type."""

from __future__ import annotations

import pickle

import pytest

from skyhaul import errors
from skyhaul.core.errorclass import ErrorClass


def _all_error_types() -> list[type[errors.SkyhaulError]]:
    found = []
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, errors.SkyhaulError):
            found.append(value)
    return found


@pytest.mark.parametrize("kind", _all_error_types(), ids=lambda t: t.__name__)
def test_errors_pickle_with_their_attributes(kind: type[errors.SkyhaulError]) -> None:
    if issubclass(kind, errors.TransferError):
        original: errors.SkyhaulError = kind("boom at x", 2.5, 503)
    elif kind is errors.IllegalTransitionError:
        original = kind("illegal", "DOWNLOADED", "claim")
    else:
        original = kind("boom at x")
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is kind
    assert str(copy) == "boom at x" or str(copy) == "illegal"
    assert copy.__dict__ == original.__dict__


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (errors.ManifestError, 2),
        (errors.CatalogUnavailableError, 2),
        (errors.PathEscapeError, 2),
        (errors.DiskFullError, 2),
        (errors.InterruptedRun, 130),
        (errors.ServerError, 1),
    ],
)
def test_exit_codes_live_on_the_type(kind: type[errors.SkyhaulError], code: int) -> None:
    assert kind.exit_code == code


@pytest.mark.parametrize(
    ("kind", "error_class"),
    [
        (errors.ConnectError, ErrorClass.CONNECT),
        (errors.ReadTimeoutError, ErrorClass.READ_TIMEOUT),
        (errors.ThrottledError, ErrorClass.THROTTLED),
        (errors.ServerError, ErrorClass.SERVER),
        (errors.ClientError, ErrorClass.CLIENT),
        (errors.IntegrityError, ErrorClass.INTEGRITY),
        (errors.DiskError, ErrorClass.DISK),
        (errors.RemoteChangedError, ErrorClass.CHANGED),
    ],
)
def test_transfer_errors_carry_their_retry_class(
    kind: type[errors.TransferError], error_class: ErrorClass
) -> None:
    assert kind("x").error_class is error_class
