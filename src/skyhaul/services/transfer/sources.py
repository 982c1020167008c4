"""The sources of one file during one attempt: which one serves, and what each served.

Rules:
- A file has one or more URLs in priority order (its URL, then its mirrors). The source
  whose validator the durable bytes carry goes first, so a resume asks the server those
  bytes came from.
- Requests go to the current source. After an error that means "this source cannot serve
  now" (``core.retry.MOVES_TO_NEXT_SOURCE``, once its retries are spent), the transfer
  moves to the next source and keeps the durable bytes; the first request there is a
  *switch* (``core.resume``), which checks that it holds a file of the same size (and
  digest, where both announce one).
- A source that holds another file is dropped for the rest of the attempt.
- Each source counts the bytes it served to the current content, for the attempt log and
  for the final check (:meth:`SourceList.refetch`): content that fails verification is
  never promoted; mixed from several sources, it is fetched again from the current one
  alone (``pin``); from one source, from the next source.
- The list counts its moves (``switches``) and its fetches after a failed verification
  (``refetches``), for the run's summary of what it repaired.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FileSource", "SourceList"]


@dataclass(slots=True, eq=False)
class FileSource:
    """One URL of a file, and what this attempt learned of it."""

    url: str
    validator: str | None = None
    """The validator of its copy (recorded, or learned from its first answer)."""
    introduced: bool = False
    """It answered a range of this file (or holds the durable bytes): ranges resume."""
    served: int = 0
    """Bytes it served to the current content of the sink."""
    dropped: bool = False

    @property
    def scheme(self) -> str:
        """The URL's scheme, lower case (``https``, ``s3``): what progress shows."""
        return self.url.partition(":")[0].lower()


class SourceList:
    """A file's sources in the order they are tried.

    Parameters
    ----------
    urls : sequence of str
        The file's URL, then its mirrors.
    validator : str or None
        The validator recorded with the durable bytes.
    validator_url : str or None
        Which URL that validator came from (None: the first).
    """

    def __init__(
        self, urls: tuple[str, ...], validator: str | None, validator_url: str | None = None
    ) -> None:
        self._index = 0
        self._pinned = False
        self.switches = 0
        """Times the list moved on to a next source."""
        self.refetches = 0
        """Times content that failed verification was fetched again."""
        if len(urls) == 1:  # the common case, once per file: no search
            self._sources = [FileSource(urls[0], validator)]
            return
        sources = [FileSource(url) for url in urls]
        owner = next((s for s in sources if s.url == validator_url), sources[0])
        owner.validator = validator
        sources.remove(owner)
        self._sources = [owner, *sources]

    @property
    def current(self) -> FileSource:
        """The source requests go to."""
        return self._sources[self._index]

    @property
    def mixed(self) -> bool:
        """True when more than one source served bytes of the current content."""
        if len(self._sources) == 1:
            return False
        return sum(1 for s in self._sources if s.served) > 1

    def move_on(self, failed: FileSource, *, drop: bool = False) -> bool:
        """Leave ``failed`` for the next usable source; False when there is none.

        Several range requests may fail on one source at once: only the first moves the
        list; the others find it already moved and carry on with the current source.
        """
        if drop:
            failed.dropped = True
        if failed is not self.current:
            return not self.current.dropped
        if self._pinned:
            return False
        for index in range(self._index + 1, len(self._sources)):
            if not self._sources[index].dropped:
                self._index = index
                self.switches += 1
                return True
        return False

    def refetch(self, failed: FileSource, *, mixed: bool) -> bool:
        """The content failed verification: choose where to fetch it again, and count it.

        Parameters
        ----------
        failed : FileSource
            The current source when the content was checked.
        mixed : bool
            Whether several sources served that content (:attr:`mixed` before the check).

        Returns
        -------
        bool
            False when no source is left to fetch it from (the failure stands).
        """
        if mixed:
            self.pin()
        elif not self.move_on(failed, drop=True):
            return False
        self.refetches += 1
        return True

    def has_next(self) -> bool:
        """True when the list could move on from the current source."""
        if self._pinned:
            return False
        return any(not s.dropped for s in self._sources[self._index + 1 :])

    def restarted(self) -> None:
        """The content starts again from byte 0: no source has served any of it."""
        for source in self._sources:
            if source.served:
                source.served = 0

    def pin(self) -> None:
        """Serve the rest of the attempt from the current source alone."""
        self._pinned = True
        self.restarted()

    def served(self) -> dict[str, int]:
        """Bytes each source served to the current content (sources that served any)."""
        return {s.url: s.served for s in self._sources if s.served}
