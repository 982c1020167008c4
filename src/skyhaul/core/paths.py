"""Destination paths that cannot leave the destination root.

Rules:
- Paths from manifests, listings and servers are untrusted. ``safe_relative_path``
  returns a clean relative ``PurePosixPath`` or raises ``PathEscapeError``; nothing is
  silently rewritten into a different directory.
- Backslashes are treated as separators (a manifest written on Windows means
  ``a\\b`` as ``a/b``), so ``..\\x`` and ``\\x`` are refused like ``../x`` and ``/x``.
- Refused: empty paths, NUL bytes, absolute paths (``/x``, ``\\x``, ``//host/share``),
  drive letters (``C:\\x``, ``C:/x``, ``C:x``) and any component made only of dots
  beyond a single one (``..``, and ``...`` or ``.. `` which Windows reads as ``..``).
  Empty and ``.`` components are dropped.
- Symlink escapes need the disk and are checked by the storage adapter, not here.
- Part files are named ``<name>.skyhaul.part`` (``part_name``), beside their final name.
  No destination may take such a name (``reserved_component``; any letter case, since
  some file systems fold it), so a part file can never be another file's destination,
  in one run or across runs.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from skyhaul.errors import PathEscapeError

DEFAULT_FILE_NAME = "index.html"
#: What a part file's name ends with; no destination's name may end with it.
PART_SUFFIX = ".skyhaul.part"
#: The longest name a file system holds (a directory's, and a part file's).
MAX_NAME_BYTES = 255
#: The longest name a destination file may have: its part file's name must fit too.
MAX_FILE_NAME_BYTES = MAX_NAME_BYTES - len(PART_SUFFIX.encode())
_DRIVE_RE = re.compile(r"[A-Za-z]:")
_UNSAFE_NAME_CHARS_RE = re.compile(r"[/\\\x00-\x1f\x7f]")


def _refuse(path: str, why: str) -> PathEscapeError:
    return PathEscapeError(f"unsafe destination path {path!r}: {why}")


def safe_relative_path(path: str) -> PurePosixPath:
    """Return ``path`` as a normalised relative path confined to the destination root.

    Parameters
    ----------
    path : str
        A relative destination path from an untrusted source.

    Returns
    -------
    PurePosixPath
        The path with backslashes read as separators and empty or ``.`` components
        dropped, e.g. ``a//./b\\c`` gives ``a/b/c``.

    Raises
    ------
    PathEscapeError
        When the path is empty, contains a NUL byte, is absolute, has a drive letter or
        has a ``..`` component. The one-line message names the path.
    """
    if not path or not path.strip():
        raise _refuse(path, "empty path")
    if "\x00" in path:
        raise _refuse(path, "contains a NUL byte")
    normalised = path.replace("\\", "/")
    if normalised.startswith("/"):
        raise _refuse(path, "absolute paths are not allowed")
    if _DRIVE_RE.match(normalised):
        raise _refuse(path, "drive letters are not allowed")
    parts: list[str] = []
    for component in normalised.split("/"):
        if component in ("", "."):
            continue
        if not component.rstrip(" ."):
            raise _refuse(path, "'..' components are not allowed")
        parts.append(component)
    if not parts:
        raise _refuse(path, "no file name")
    return PurePosixPath(*parts)


def part_name(name: str) -> str:
    """Return the name of the part file of the final name ``name``."""
    return name + PART_SUFFIX


def reserved_component(path: str) -> str | None:
    """Return the component of ``path`` that only a part file may have, or None.

    Examples
    --------
    >>> reserved_component("raw/a.fits.skyhaul.part")
    'a.fits.skyhaul.part'
    >>> reserved_component("raw/a.fits.part") is None
    True
    """
    if PART_SUFFIX not in path.casefold():  # one scan for the usual path
        return None
    for component in path.replace("\\", "/").split("/"):
        if component.casefold().endswith(PART_SUFFIX):
            return component
    return None


def reserved_refusal(path: str, component: str) -> str:
    """The one-line reason a destination with a reserved ``component`` is refused."""
    return (
        f"destination path {path!r}: names ending in {PART_SUFFIX!r} are reserved for "
        f"skyhaul's part files ({component!r})"
    )


def is_normal_path(path: str) -> bool:
    """Tell whether ``path`` is already what :func:`safe_relative_path` makes of it.

    The same rules, without building a path object: a manifest has millions of rows.
    """
    if not path.strip() or "\\" in path or "\x00" in path or path[0] == "/":
        return False
    if _DRIVE_RE.match(path):
        return False
    return all(part.rstrip(" .") for part in path.split("/"))


def _truncate_name(name: str) -> str:
    """Shorten a file name to ``MAX_FILE_NAME_BYTES`` of UTF-8, keeping its extension."""
    if len(name.encode()) <= MAX_FILE_NAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > 16:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = MAX_FILE_NAME_BYTES - len(suffix.encode())
    cut = stem.encode()[:budget].decode(errors="ignore")
    return cut + suffix


def path_from_url(url: str) -> str:
    """Return a default relative destination for a bare URL: its last path component.

    The component is percent-decoded and made safe: separators, control characters and
    NUL become ``_``, a leading drive letter loses its colon, names made only of dots
    or spaces become ``index.html``, and long names are cut to ``MAX_FILE_NAME_BYTES``
    (242) keeping the extension. The query string is ignored. The result always passes
    ``safe_relative_path``.

    Examples
    --------
    >>> path_from_url("https://archive.example/data/img%201.fits?sig=x")
    'img 1.fits'
    >>> path_from_url("https://archive.example/")
    'index.html'
    """
    try:
        raw_path = urlsplit(url).path
    except ValueError:
        raw_path = url.split("?", 1)[0].split("#", 1)[0]
    name = unquote(raw_path.rsplit("/", 1)[-1], errors="replace")
    name = _UNSAFE_NAME_CHARS_RE.sub("_", name).strip()
    if _DRIVE_RE.match(name):
        name = name[0] + "_" + name[2:]
    if not name.strip(" ."):
        return DEFAULT_FILE_NAME
    return _truncate_name(name)
