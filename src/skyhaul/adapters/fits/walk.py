"""Walk a FITS file's HDUs in order: headers parsed by astropy, data skipped or summed.

Rules:
- Structure, as the FITS standard has it: the file starts with a ``SIMPLE`` header, each
  later HDU with an ``XTENSION`` one; a header is whole 2880-byte blocks ending at its
  ``END`` card; the data's size follows from ``BITPIX``, ``NAXISn``, ``PCOUNT`` and
  ``GCOUNT`` (random groups included) and is padded to whole blocks.
- Each header is parsed by astropy (``Header.fromstring``), imported here, when a file is
  first checked: the command line never pays for it.
- Where an HDU carries ``CHECKSUM`` or ``DATASUM``, its data unit is read and summed in
  pieces (:mod:`.sums`) and both must verify; otherwise its data are skipped unread. The
  data unit is the data and their fill to the block, as the standard defines ``DATASUM``
  and astropy sums it: a changed fill byte fails it.
- A header without its ``END``, or data past the end of the file, is a file cut short;
  that, a first header that is not ``SIMPLE`` and a sum that does not verify raise
  ``IntegrityError``. Fill missing after the last data unit (it would sum as the zeros
  it should hold), and bytes after the last HDU that do not start an extension, are let
  through, as astropy opens such files.
- Only the primary header and that of the first science extension are kept: the first
  image extension named ``SCI`` (a tile-compressed image counts), else the first
  extension with data.
- A set ``stop`` event ends the walk between two pieces (``WalkStopped``).
"""

from __future__ import annotations

import math
import threading
from typing import Any

from skyhaul.adapters.fits.streams import PIECE, ByteStream
from skyhaul.adapters.fits.sums import NEGATIVE_ZERO, WordSum, add_sums, sum_of
from skyhaul.core.fitsheaders import Card, CardValue, FitsHeaders, HduHeader
from skyhaul.errors import IntegrityError

__all__ = ["BLOCK", "WalkStopped", "walk"]

BLOCK = 2880
_CARD = 80
#: Longest header read (in blocks): far past any real one, and a bound on memory.
MAX_HEADER_BLOCKS = 4096
_BITPIX = frozenset({8, 16, 32, 64, -32, -64})
_CHECKSUM_LENGTH = 16


class WalkStopped(Exception):
    """The walk was asked to stop (its caller was cancelled)."""


def walk(stream: ByteStream, stop: threading.Event | None = None) -> FitsHeaders:
    """Check every HDU of the FITS content of ``stream``; return the headers to keep.

    Raises
    ------
    IntegrityError
        Not FITS, cut short, or a CHECKSUM or DATASUM that does not verify.
    WalkStopped
        ``stop`` was set.
    """
    kept: list[HduHeader] = []
    science: HduHeader | None = None
    with_data: HduHeader | None = None
    index = 0
    while True:
        raw = _read_header(stream, index)
        if raw is None:
            break
        header = _parse(raw, index)
        size = _data_size(header, index)
        if "CHECKSUM" in header or "DATASUM" in header:
            _verify(header, raw, _sum_data_unit(stream, size, index, stop), index)
        else:
            if stream.skip(size) < size:
                raise _cut_short(index, "data")
            stream.skip(_padding(size))  # missing fill at the very end is let through
        if index == 0:
            kept.append(_hdu(header, index))
        elif science is None and _is_science(header):
            science = _hdu(header, index)
        elif with_data is None and size > 0:
            with_data = _hdu(header, index)
        index += 1
    chosen = science or with_data
    if chosen is not None:
        kept.append(chosen)
    return FitsHeaders(tuple(kept))


def _read_header(stream: ByteStream, index: int) -> bytes | None:
    """The header of HDU ``index``, whole blocks up to its END; None after the last HDU."""
    blocks: list[bytes] = []
    while len(blocks) < MAX_HEADER_BLOCKS:
        block = stream.read(BLOCK)
        if not blocks:
            if index == 0 and not block.startswith(b"SIMPLE  ="):
                raise IntegrityError("not a FITS file: it does not start with SIMPLE =")
            if index > 0 and not block.startswith(b"XTENSION="):
                return None  # the end, or bytes after the last HDU (see the rules)
        if len(block) < BLOCK:
            raise _cut_short(index, "header")
        blocks.append(block)
        if _has_end(block):
            return b"".join(blocks)
    raise IntegrityError(
        f"not a FITS file as skyhaul reads it: HDU {index} has no END card within "
        f"{MAX_HEADER_BLOCKS * BLOCK} bytes"
    )


def _has_end(block: bytes) -> bool:
    for at in range(0, BLOCK, _CARD):
        if block.startswith(b"END", at) and not block[at + 3 : at + _CARD].strip():
            return True
    return False


def _parse(raw: bytes, index: int) -> Any:
    """The astropy ``Header`` of ``raw`` (astropy is untyped)."""
    from astropy.io import fits

    try:
        return fits.Header.fromstring(raw.decode("latin-1"))
    except Exception as exc:  # astropy's errors, at its seam
        raise IntegrityError(
            f"not a FITS file: header of HDU {index} does not parse: {exc}"
        ) from None


def _value(header: Any, keyword: str) -> object:
    try:
        return header.get(keyword)
    except Exception as exc:  # an unparsable card, at astropy's seam
        raise IntegrityError(f"not a FITS file: {keyword} does not read: {exc}") from None


def _whole(header: Any, keyword: str, default: int | None, index: int) -> int:
    value = _value(header, keyword)
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IntegrityError(f"not a FITS file: HDU {index} has {keyword} = {value!r}")
    return value


def _data_size(header: Any, index: int) -> int:
    """Bytes of the data unit, without its fill."""
    naxis = _whole(header, "NAXIS", None, index)
    if naxis == 0:
        return 0
    bitpix = _value(header, "BITPIX")
    if bitpix not in _BITPIX or isinstance(bitpix, bool):
        raise IntegrityError(f"not a FITS file: HDU {index} has BITPIX = {bitpix!r}")
    axes = [_whole(header, f"NAXIS{n}", None, index) for n in range(1, naxis + 1)]
    groups = index == 0 and _value(header, "GROUPS") is True and axes[0] == 0
    if groups:
        axes = axes[1:]
    elif index == 0:
        return abs(int(bitpix)) // 8 * math.prod(axes)  # a primary image: no heap
    gcount = _whole(header, "GCOUNT", 1, index)
    pcount = _whole(header, "PCOUNT", 0, index)
    return abs(int(bitpix)) // 8 * gcount * (pcount + math.prod(axes))


def _padding(size: int) -> int:
    return -size % BLOCK


def _sum_data_unit(stream: ByteStream, size: int, index: int, stop: threading.Event | None) -> int:
    """The sum of ``size`` bytes of data, then of their fill as far as the file holds it."""
    words = WordSum()
    left = size
    while left > 0:
        if stop is not None and stop.is_set():
            raise WalkStopped
        piece = stream.read(min(left, PIECE))
        if not piece:
            raise _cut_short(index, "data")
        words.add(piece)
        left -= len(piece)
    if stop is not None and stop.is_set():
        raise WalkStopped
    # Fill missing at the very end adds nothing, as the zeros it should hold would.
    words.add(stream.read(_padding(size)))
    return words.value


def _verify(header: Any, raw: bytes, datasum: int, index: int) -> None:
    where = _where(header, index)
    stated = _value(header, "DATASUM")
    if stated is not None:
        try:
            expected = int(str(stated).strip())
        except ValueError:
            raise IntegrityError(f"FITS {where}: DATASUM {stated!r} is not a number") from None
        if expected != datasum:
            raise IntegrityError(
                f"FITS DATASUM mismatch in {where}: the header says {expected}, "
                f"the data sum to {datasum}"
            )
    checksum = _value(header, "CHECKSUM")
    if isinstance(checksum, str) and len(checksum.strip()) == _CHECKSUM_LENGTH:
        total = add_sums(sum_of(raw), datasum)
        if total != NEGATIVE_ZERO:
            raise IntegrityError(
                f"FITS CHECKSUM mismatch in {where}: header and data sum to {total:#010x}, "
                "not all ones"
            )


def _where(header: Any, index: int) -> str:
    name = _name(header, index)
    return f"HDU {index}" + (f" ({name})" if name else "")


def _cut_short(index: int, part: str) -> IntegrityError:
    return IntegrityError(f"FITS file cut short: it ends inside the {part} of HDU {index}")


def _name(header: Any, index: int) -> str:
    if index == 0:
        return "PRIMARY"
    try:
        name = header.get("EXTNAME")
    except Exception:  # an unparsable EXTNAME card: no name
        return ""
    return name.strip() if isinstance(name, str) else ""


def _is_science(header: Any) -> bool:
    try:
        kind = str(header.get("XTENSION", "")).strip().upper()
        image = kind == "IMAGE" or (kind == "BINTABLE" and header.get("ZIMAGE") is True)
    except Exception:  # an unparsable card: not the science image
        return False
    return image and _name(header, 1).upper() == "SCI"


def _hdu(header: Any, index: int) -> HduHeader:
    return HduHeader(index, _name(header, index), tuple(_card(card) for card in header.cards))


def _card(card: Any) -> Card:
    """One astropy card as (keyword, value, comment), plain values only."""
    try:
        keyword, value, comment = card.keyword, card.value, card.comment
    except Exception:  # an unparsable card is kept as the text it holds
        image = str(card.image)
        return image[:8].strip(), image[10:].strip(), ""
    return str(keyword), _plain(value), str(comment or "")


def _plain(value: object) -> CardValue:
    from astropy.io.fits.card import Undefined

    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Undefined):
        return None
    return str(value)  # complex numbers, and anything astropy adds later
