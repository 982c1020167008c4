"""FITS headers as the catalog keeps them: the indexed values declared once, the cards
kept whole (up to a bound).

Rules:
- :data:`HEADER_COLUMNS` is the one list of the indexed header values. The catalog's
  columns, the keys of ``ls --where`` and ``Client.find_files``, and the values ``fits
  show`` prints derive from it. Each names its FITS keyword, its kind, and keywords tried
  after it (JWST writes ``TARG_RA`` where HST writes ``RA_TARG``).
- A value is looked up in the primary header first, then in the science extension's;
  the first keyword that reads as the column's kind wins. Text is stripped and upper case
  (compared without regard to case, as instruments are); a number must be finite; a
  ``DATE-OBS`` holding a date alone takes its time of day from ``TIME-OBS``. A value that
  does not read is None: a header value never fails a file.
- The cards of each kept HDU are ``(keyword, value, comment)``; values are JSON's own
  (text, numbers, booleans, None for an undefined value). Past ``CARDS_LIMIT`` bytes of
  JSON, COMMENT, HISTORY and blank cards go first, then cards from the end, and
  ``truncated`` says so.
- Pure: standard library only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from skyhaul.core.metadata import MetadataKind
from skyhaul.core.timeparse import parse_utc

__all__ = [
    "CARDS_LIMIT",
    "HEADER_COLUMNS",
    "Card",
    "CardValue",
    "FitsHeaders",
    "HduHeader",
    "HeaderColumn",
    "StoredHeaders",
    "column_for_key",
    "decode_headers",
    "encode_headers",
    "header_values",
]

CardValue = str | int | float | bool | None
Card = tuple[str, CardValue, str]
"""One header card: keyword, value, comment."""

#: Most bytes of JSON the cards of one file take in the catalog.
CARDS_LIMIT = 256 * 1024

#: Cards dropped first when the cards do not fit.
_COMMENTARY = frozenset({"COMMENT", "HISTORY", ""})
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class HeaderColumn:
    """One indexed header value.

    Parameters
    ----------
    keyword : str
        Its FITS keyword (what users write: ``INSTRUME``, ``DATE-OBS``).
    kind : MetadataKind
        TEXT, FLOAT or TIME.
    also : tuple of str
        Keywords read when ``keyword`` is missing or does not read, in order.
    """

    keyword: str
    kind: MetadataKind
    also: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The catalog column: the keyword in lower case, ``-`` as ``_``."""
        return self.keyword.lower().replace("-", "_")


HEADER_COLUMNS: tuple[HeaderColumn, ...] = (
    HeaderColumn("TELESCOP", MetadataKind.TEXT),
    HeaderColumn("INSTRUME", MetadataKind.TEXT),
    HeaderColumn("DETECTOR", MetadataKind.TEXT),
    HeaderColumn("FILTER", MetadataKind.TEXT),
    HeaderColumn("TARGNAME", MetadataKind.TEXT, ("OBJECT",)),
    HeaderColumn("RA_TARG", MetadataKind.FLOAT, ("TARG_RA",)),
    HeaderColumn("DEC_TARG", MetadataKind.FLOAT, ("TARG_DEC",)),
    HeaderColumn("DATE-OBS", MetadataKind.TIME, ("DATE-BEG",)),
    HeaderColumn("EXPTIME", MetadataKind.FLOAT, ("EFFEXPTM", "XPOSURE")),
)

_BY_KEY = {
    **{column.keyword: column for column in HEADER_COLUMNS},
    **{column.name.upper(): column for column in HEADER_COLUMNS},
}


def column_for_key(key: str) -> HeaderColumn | None:
    """The column a user's key names (its FITS keyword or column name, any case)."""
    return _BY_KEY.get(key.strip().upper())


@dataclass(frozen=True, slots=True)
class HduHeader:
    """The header of one HDU.

    Parameters
    ----------
    index : int
        Its place in the file (0: primary).
    name : str
        ``PRIMARY``, or the extension's ``EXTNAME`` ("" without one).
    cards : tuple of Card
        Its cards, in order (without ``END``).
    """

    index: int
    name: str
    cards: tuple[Card, ...]

    def first(self, keyword: str) -> CardValue:
        """The value of the first card ``keyword`` (None: no such card)."""
        for key, value, _ in self.cards:
            if key == keyword:
                return value
        return None


@dataclass(frozen=True, slots=True)
class FitsHeaders:
    """The headers of a FITS file kept in the catalog: the primary HDU's and the first
    science extension's (when the file has one).

    Parameters
    ----------
    hdus : tuple of HduHeader
        The primary header, then the science extension's.
    truncated : bool
        Cards were left out to stay within :data:`CARDS_LIMIT`.
    """

    hdus: tuple[HduHeader, ...]
    truncated: bool = False

    def values(self) -> dict[str, object]:
        """The indexed values, by column name (see :func:`header_values`)."""
        return header_values(self.hdus)

    def bounded(self, limit: int = CARDS_LIMIT) -> FitsHeaders:
        """These headers within ``limit`` bytes of JSON (see the module rules)."""
        if _json_size(self.hdus) <= limit:
            return self
        kept = tuple(
            HduHeader(h.index, h.name, tuple(c for c in h.cards if c[0] not in _COMMENTARY))
            for h in self.hdus
        )
        budget = limit - _json_size(tuple(HduHeader(h.index, h.name, ()) for h in kept))
        cut: list[HduHeader] = []
        for hdu in kept:
            cards: list[Card] = []
            for card in hdu.cards:
                budget -= len(_dumps(_card_json(card))) + 1  # and a comma
                if budget < 0:
                    break
                cards.append(card)
            cut.append(HduHeader(hdu.index, hdu.name, tuple(cards)))
        return FitsHeaders(tuple(cut), truncated=True)


@dataclass(frozen=True, slots=True)
class StoredHeaders:
    """What the catalog holds about a file's FITS content.

    Parameters
    ----------
    file_id : int
        The file.
    values : mapping
        The indexed values by FITS keyword (``INSTRUME``...), None where unknown.
    headers : FitsHeaders or None
        The cards; None when none were read (a file registered with its origin only).
    origin : str or None
        The archive's record of the file (JSON text, as registered).
    read_at : datetime or None
        When the headers were stored.
    """

    file_id: int
    values: Mapping[str, object]
    headers: FitsHeaders | None
    origin: str | None = None
    read_at: datetime | None = None


def header_values(hdus: Sequence[HduHeader]) -> dict[str, object]:
    """Read the indexed values of :data:`HEADER_COLUMNS` from ``hdus`` (primary first).

    Returns
    -------
    dict
        Every column name, with its value: upper-case text, a finite float, an aware UTC
        datetime, or None.
    """
    lookups = [_lookup(hdu.cards) for hdu in hdus]
    values: dict[str, object] = {}
    for column in HEADER_COLUMNS:
        values[column.name] = next(
            (
                found
                for keyword in (column.keyword, *column.also)
                for cards in lookups
                if (found := _read(column.kind, keyword, cards)) is not None
            ),
            None,
        )
    return values


def _lookup(cards: Iterable[Card]) -> dict[str, CardValue]:
    lookup: dict[str, CardValue] = {}
    for keyword, value, _ in cards:
        lookup.setdefault(keyword, value)
    return lookup


def _read(kind: MetadataKind, keyword: str, cards: Mapping[str, CardValue]) -> object:
    value = cards.get(keyword)
    if value is None:
        return None
    if kind is MetadataKind.TEXT:
        text = str(value).strip().upper()
        return text or None
    if kind is MetadataKind.FLOAT:
        return _finite(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    time_of_day = cards.get("TIME-OBS")
    if _DATE_ONLY.fullmatch(text) and isinstance(time_of_day, str) and time_of_day.strip():
        text = f"{text}T{time_of_day.strip()}"
    try:
        return parse_utc(text)
    except ValueError:
        return None


def _finite(value: CardValue) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --- JSON -------------------------------------------------------------------------------


def _card_json(card: Card) -> list[CardValue]:
    keyword, value, comment = card
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)  # JSON has no NaN
    return [keyword, value, comment]


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _hdus_json(hdus: Iterable[HduHeader]) -> list[dict[str, object]]:
    return [
        {"index": h.index, "name": h.name, "cards": [_card_json(c) for c in h.cards]} for h in hdus
    ]


def _json_size(hdus: tuple[HduHeader, ...]) -> int:
    return len(_dumps(_hdus_json(hdus)))


def encode_headers(headers: FitsHeaders) -> str:
    """The cards as stored (compact JSON): ``{"hdus": [...], "truncated": bool}``."""
    return _dumps({"hdus": _hdus_json(headers.hdus), "truncated": headers.truncated})


def decode_headers(text: str) -> FitsHeaders:
    """Read what :func:`encode_headers` wrote.

    Raises
    ------
    ValueError
        When ``text`` is not such a document.
    """
    try:
        document = json.loads(text)
        hdus = tuple(
            HduHeader(
                int(hdu["index"]),
                str(hdu["name"]),
                tuple((str(k), v, str(c)) for k, v, c in hdu["cards"]),
            )
            for hdu in document["hdus"]
        )
        return FitsHeaders(hdus, truncated=bool(document.get("truncated", False)))
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"stored FITS headers do not read: {exc}") from None
