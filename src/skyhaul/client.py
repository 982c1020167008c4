"""``skyhaul.Client``: the synchronous Python API, the FITS download service's interface.

Rules:
- Every method blocks until done and returns plain values; underneath runs the async
  engine. Called where an event loop already runs (Jupyter, an async app), the work runs
  on a private loop in a worker thread, so the call still just works.
- ``cancel_event`` is anything with ``is_set()`` (a ``threading.Event``): once set,
  queued files are not started and in-flight ones stop within a fraction of a second,
  their progress kept; the method returns what was downloaded until then.
- Ctrl-C (a KeyboardInterrupt in the main thread) while a method runs cancels it the
  same way, loop or no loop: a KeyboardInterrupt cannot reach a thread blocked on a
  worker, nor work on the caller's own loop thread without losing its result. So the
  method takes SIGINT for its duration: the first one sets the cancel event, the work
  winds down (files resumable), :attr:`Client.last_result` keeps what it did, and then
  the method raises KeyboardInterrupt. A second Ctrl-C raises at once.
- ``download_files_by_*`` do the seed's whole flow: recover stale files, list the source
  for the window (when a source is configured or named), keep the eligible files (new,
  and failed ones whose retry is due), download them in parallel, and return how many
  were downloaded. Details of the last run are in :attr:`Client.last_result`.
- Times are ``datetime`` (naive = UTC) or ISO 8601 text.
- ``find_files`` and ``fits_headers`` read the FITS headers stored by downloads with
  ``fits_metadata`` through the same service as ``skyhaul ls --where`` and ``skyhaul
  fits show`` (``services.headers``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from skyhaul.adapters.catalog import Catalog, catalog_url, open_catalog
from skyhaul.adapters.config import SkyhaulConfig, load_config
from skyhaul.adapters.sources import (
    ListingQuery,
    TimeBasis,
    build_source,
    download_credentials,
)
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileRecord, Selection, TransferOptions
from skyhaul.core.timeparse import parse_utc
from skyhaul.core.window import TimeWindow
from skyhaul.errors import InterruptedRun, UsageError
from skyhaul.services.headers import Where, find_files, headers_document

if TYPE_CHECKING:
    from skyhaul.adapters.mast import MastClient
    from skyhaul.services.mast_download import ManifestRow
    from skyhaul.services.mast_import import ImportResult, SourceChoice

__all__ = ["CancelEvent", "Client"]

T = TypeVar("T")

#: How often a ``cancel_event`` is looked at, in seconds.
CANCEL_POLL = 0.05

TimeLike = datetime | str


class CancelEvent(Protocol):
    """Anything that can say it was set (``threading.Event``)."""

    def is_set(self) -> bool:
        """Whether to stop."""
        ...


class Client:
    """Acquire files into a catalog, synchronously.

    Parameters
    ----------
    catalog : str or None
        Catalog URL (``sqlite:///skyhaul.db`` by default, or ``$SKYHAUL_CATALOG``).
    config : str, path-like or None
        Configuration file with ``[sources.<name>]`` (default ``$SKYHAUL_CONFIG`` or
        ``./skyhaul.toml`` when present).
    source : str or None
        Source the download methods list; default: the configuration's only source, if
        it has exactly one (with none, they download what the catalog already knows).
    options : TransferOptions or None
        Concurrency, segment size, attempts, leases, TLS.

    Examples
    --------
    >>> with Client(config="skyhaul.toml") as client:  # doctest: +SKIP
    ...     client.download_files_by_observation("EUI", "2024-03-01", "2024-03-02")
    42
    """

    def __init__(
        self,
        catalog: str | None = None,
        config: str | os.PathLike[str] | None = None,
        *,
        source: str | None = None,
        options: TransferOptions | None = None,
    ) -> None:
        self.config: SkyhaulConfig = load_config(config)
        if source is not None:
            self.config.source(source)  # fail now, not at the first download
        self.source = source
        self.options = options or TransferOptions()
        self.catalog: Catalog = open_catalog(catalog_url(catalog))
        self.last_result: Any = None
        """The :class:`~skyhaul.services.acquire.AcquireResult` of the last download."""

    # --- the seed's API --------------------------------------------------------------------

    def download_files_by_observation(
        self,
        instrument: str | None,
        start: TimeLike,
        end: TimeLike,
        cancel_event: CancelEvent | None = None,
        *,
        source: str | None = None,
    ) -> int:
        """Download the instrument's files whose observation overlaps ``[start, end)``.

        Returns
        -------
        int
            Files downloaded successfully by this call.
        """
        window = _window(start, end)
        selection = Selection(instrument=instrument, obs_start=window.start, obs_end=window.end)
        query = ListingQuery(window, instrument=instrument, by="observation")
        return self._acquire(selection, query, cancel_event, source)

    def download_files_by_downlink(
        self,
        instrument: str | None,
        start: TimeLike,
        end: TimeLike,
        cancel_event: CancelEvent | None = None,
        *,
        source: str | None = None,
    ) -> int:
        """Download the instrument's files downlinked in ``[start, end)``; return how many."""
        window = _window(start, end)
        selection = Selection(
            instrument=instrument, downlink_start=window.start, downlink_end=window.end
        )
        query = ListingQuery(window, instrument=instrument, by="downlink")
        return self._acquire(selection, query, cancel_event, source)

    def download_files_by_slots(
        self,
        instrument: str | None,
        slots: Iterable[Any],
        cancel_event: CancelEvent | None = None,
        *,
        source: str | None = None,
    ) -> int:
        """Download the instrument's files downlinked within the given passes.

        Parameters
        ----------
        slots : iterable
            :class:`~skyhaul.core.model.Slot` values, or anything with ``start`` and
            ``end`` (attributes or keys), or ``(start, end)`` pairs.

        Returns
        -------
        int
            Files downloaded successfully by this call (0 for no slots).
        """
        windows = tuple(_slot_window(slot) for slot in slots)
        if not windows:
            return 0
        selection = Selection(instrument=instrument, downlink_windows=windows)
        span = TimeWindow(min(w[0] for w in windows), max(w[1] for w in windows))
        query = ListingQuery(span, instrument=instrument, by="downlink")
        return self._acquire(selection, query, cancel_event, source)

    def get_downloaded_files_by_time(
        self, instrument: str | None, start: TimeLike, end: TimeLike
    ) -> list[FileRecord]:
        """Return the instrument's files that became DOWNLOADED in ``[start, end)``."""
        window = _window(start, end)
        selection = Selection(
            states=frozenset({FileState.DOWNLOADED}),
            instrument=instrument,
            downloaded_start=window.start,
            downloaded_end=window.end,
        )
        return self.catalog.list_files(selection, order="downloaded_at")

    def recover_stale_files(
        self, now: TimeLike | None = None, instrument: str | None = None
    ) -> int:
        """Fail the DOWNLOADING files whose lease expired before ``now``; return how many.

        A live download renews its lease while bytes flow, so it is never taken away
        however long it runs.
        """
        moment = datetime.now(UTC) if now is None else _time(now)
        return self.catalog.recover_stale(now=moment, instrument=instrument)

    # --- FITS headers -----------------------------------------------------------------------

    def find_files(
        self,
        where: Where | None = None,
        *,
        target: str | None = None,
        state: FileState | str | Iterable[FileState | str] | None = None,
        limit: int | None = None,
    ) -> list[FileRecord]:
        """Return the files whose stored FITS header values meet every condition.

        Parameters
        ----------
        where : str, sequence of str, or mapping, optional
            Conditions ``"KEY<op>VALUE"`` (``"INSTRUME=NIRCAM"``, ``"EXPTIME>=100"``), or
            a mapping of keys to the values they must equal (``{"INSTRUME": "NIRCAM"}``).
            Keys are TELESCOP, INSTRUME, DETECTOR, FILTER, TARGNAME, RA_TARG, DEC_TARG,
            DATE-OBS and EXPTIME, in any case; text compares in any case, ``*`` matching
            any run of characters; a date alone is its whole UTC day.
        target : str, optional
            The target name (TARGNAME), in any case, ``*`` wildcards.
        state : FileState, str or several, optional
            Only files in these states.
        limit : int, optional
            Most files returned (by id).

        Raises
        ------
        UsageError
            A condition that does not read, or an unknown state.
        """
        selection = None if state is None else Selection(states=_states(state))
        return find_files(self.catalog, selection, where=where, target=target, limit=limit)

    def fits_headers(self, file: int | str | os.PathLike[str]) -> dict[str, Any]:
        """Return a file's stored FITS headers (as ``skyhaul fits show --json`` prints).

        Parameters
        ----------
        file : int, str or path-like
            A catalog id, or the path of the file (its destination or a copy's; relative
            to the working directory).

        Returns
        -------
        dict
            ``id``, ``path``, ``state``; ``values`` (the indexed values by FITS keyword);
            ``hdus`` (each ``index``, ``name`` and ``cards`` as ``[keyword, value,
            comment]``; empty when no headers were stored); ``truncated``; ``read_at``;
            ``origin`` (the archive's record of the file, or None).

        Raises
        ------
        UsageError
            No such file in the catalog.
        """
        ref = file if isinstance(file, int) else os.fspath(file)
        return headers_document(self.catalog, ref)

    # --- more -------------------------------------------------------------------------------

    def discover(
        self,
        source: str,
        start: TimeLike,
        end: TimeLike,
        instrument: str | None = None,
        by: TimeBasis = "observation",
    ) -> Any:
        """List ``source`` for ``[start, end)`` and register its files.

        Returns
        -------
        DiscoveryResult
            Counts: listed, new, known, changed.
        """
        from skyhaul.services.cancellation import until_cancelled
        from skyhaul.services.discovery import discover_into

        entry = self.config.source(source)
        query = ListingQuery(_window(start, end), instrument=instrument, by=by)

        async def work(cancel: asyncio.Event) -> Any:
            built = build_source(entry, verify_tls=self.options.verify_tls)
            try:
                found = discover_into(self.catalog, built, query, str(entry.dest))
                return await until_cancelled(found, cancel)
            finally:
                await built.aclose()

        found, interrupted = _run(work, None)
        if interrupted:
            raise KeyboardInterrupt
        return found

    # --- MAST -------------------------------------------------------------------------------

    def mast_search(
        self,
        target: str | None = None,
        *,
        ra: float | None = None,
        dec: float | None = None,
        radius: float | str = "3arcmin",
        obs_id: str | None = None,
        mission: str | None = None,
        instrument: str | None = None,
        calib_level: int | Iterable[int] | None = None,
        product_type: str | None = None,
        mast_url: str | None = None,
    ) -> list[dict[str, object]]:
        """Search MAST's observations by target name, position or ``obs_id``.

        Parameters
        ----------
        target : str or None
            A name MAST resolves (``"M31"``, ``"NGC 1300"``).
        ra, dec : float or None
            A position in degrees (instead of a target).
        radius : float or str
            Around the target or position: degrees, or text such as ``"3arcmin"``.
        obs_id : str or None
            One observation (instead of a target or position).
        mission, instrument : str or None
            ``obs_collection`` (``"JWST"``) and ``instrument_name`` (``"NIRCAM"`` means
            every NIRCam mode; ``"NIRCAM/IMAGE"`` one).
        calib_level : int, iterable of int, or None
            Calibration levels wanted.
        product_type : str or None
            Products counted in each row (``"SCIENCE"``; None: all).
        mast_url : str or None
            MAST's root (default ``$SKYHAUL_MAST_URL``, else ``https://mast.stsci.edu``).

        Returns
        -------
        list of dict
            One row per observation: ``obs_id``, ``obsid``, ``target``, ``mission``,
            ``instrument``, ``start``/``end`` (ISO 8601 UTC), ``t_min``/``t_max`` (MJD),
            ``calib_level``, ``dataproduct_type``, ``ra``, ``dec``, ``products`` and
            ``size`` (their total bytes).
        """
        from skyhaul.services.mast_search import SearchCriteria, parse_radius, search

        levels = (calib_level,) if isinstance(calib_level, int) else tuple(calib_level or ())
        criteria = SearchCriteria(
            target=target,
            ra=ra,
            dec=dec,
            radius=parse_radius(radius) if isinstance(radius, str) else float(radius),
            obs_id=obs_id,
            mission=mission,
            instrument=instrument,
            calib_levels=levels,
            product_type=product_type,
        )
        criteria.check()
        rows = self._ask_mast(mast_url, lambda client: search(client, criteria))
        return [row.as_json() for row in rows]

    def mast_import(
        self,
        obs_ids: str | Iterable[str],
        *,
        product_type: str | None = None,
        source: str = "auto",
        dest: str | os.PathLike[str] = ".",
        cancel_event: CancelEvent | None = None,
        mast_url: str | None = None,
    ) -> ImportResult:
        """Import MAST observations: one file per product under
        ``dest/<mission>/<obs_id>/``, downloaded as an ``import`` job.

        Parameters
        ----------
        obs_ids : str or iterable of str
            The observations.
        product_type : str or None
            Only products of this type (``"SCIENCE"``; None: all, as astroquery).
        source : {"auto", "s3", "http"}
            ``auto``: S3 first for products in the cloud, MAST as mirror; ``s3``: cloud
            products only (the others are skipped); ``http``: MAST only.
        dest : str or path-like
            Destination root (created if needed).
        cancel_event : CancelEvent or None
            Set to stop (files stay resumable; ``skyhaul jobs resume`` goes on).
        mast_url : str or None
            MAST's root (default ``$SKYHAUL_MAST_URL``, else ``https://mast.stsci.edu``).

        Returns
        -------
        ImportResult
            ``run`` (the job's :class:`~skyhaul.services.acquire.AcquireResult`:
            ``job_id``, ``summary``), ``plan`` (files, products skipped and refused),
            ``not_done`` and ``as_json()``. Also kept in :attr:`last_result`.

        Raises
        ------
        UsageError
            An unknown ``obs_id`` or a bad option (nothing is registered).
        SourceError
            MAST failed (nothing is registered).
        """
        from skyhaul.services.mast_import import (
            ImportResult,
            plan_import,
            prepare_import,
            query_params,
        )

        choice = _source_choice(source)
        wanted = [obs_ids] if isinstance(obs_ids, str) else list(obs_ids)
        root = _directory(dest)
        url = self._mast_url(mast_url)
        plan = self._ask_mast(
            url,
            lambda client: plan_import(client, wanted, product_type=product_type, source=choice),
        )
        params = {"via": "python", "mast": query_params(url, wanted, product_type, choice)}
        run, _ = prepare_import(self.catalog, plan, str(root), self.options, params=params)
        result, interrupted = _run(run.run, cancel_event)
        imported = self.last_result = ImportResult(result, plan)
        if interrupted:
            raise KeyboardInterrupt  # after keeping the result: the caller asked to stop
        return imported

    def mast_download_products(
        self,
        rows: Sequence[Mapping[str, object]],
        download_dir: str | os.PathLike[str],
        *,
        source: str = "auto",
        flat: bool = False,
        cancel_event: CancelEvent | None = None,
        mast_url: str | None = None,
    ) -> list[ManifestRow]:
        """Download product rows as astroquery's ``download_products`` does (see
        :func:`skyhaul.mast.download_products`); return the manifest's rows."""
        from skyhaul.services.mast_download import manifest_rows, plan_table
        from skyhaul.services.mast_import import ImportResult, prepare_import

        choice = _source_choice(source)
        root = _directory(download_dir)
        plan = self._ask_mast(
            mast_url, lambda client: plan_table(client, rows, source=choice, flat=flat)
        )
        params = {"via": "astroquery drop-in", "source": choice.value, "flat": flat}
        run, _ = prepare_import(self.catalog, plan, str(root), self.options, params=params)
        result, interrupted = _run(run.run, cancel_event)
        self.last_result = ImportResult(result, plan)
        ids = tuple(self.catalog.job_file_ids(run.job_id))
        records = {r.url: r for r in self.catalog.list_files(Selection(ids=ids))} if ids else {}
        manifest = manifest_rows(rows, plan, records, os.fspath(download_dir))
        if interrupted:
            raise KeyboardInterrupt
        return manifest

    def _mast_url(self, explicit: str | None) -> str:
        from skyhaul.adapters.mast import mast_url

        return mast_url(explicit, os.environ)

    def _ask_mast(self, url: str | None, ask: Callable[[MastClient], Coroutine[Any, Any, T]]) -> T:
        """Ask MAST (Ctrl-C stops the question: KeyboardInterrupt, nothing registered)."""
        from skyhaul.services.mast_session import ask_mast

        where = self._mast_url(url)
        verify = self.options.verify_tls
        try:
            answer, interrupted = _run(
                lambda cancel: ask_mast(where, ask, cancel, verify_tls=verify), None
            )
        except InterruptedRun:
            raise KeyboardInterrupt from None
        if interrupted:
            raise KeyboardInterrupt
        return answer

    def close(self) -> None:
        """Close the catalog."""
        self.catalog.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- plumbing ---------------------------------------------------------------------------

    def _source_name(self, explicit: str | None) -> str | None:
        name = explicit or self.source
        if name is not None:
            return name
        if len(self.config.sources) == 1:
            return next(iter(self.config.sources))
        return None

    def _acquire(
        self,
        selection: Selection,
        query: ListingQuery,
        cancel_event: CancelEvent | None,
        source: str | None,
    ) -> int:
        from skyhaul.services.acquire import Discovery
        from skyhaul.services.runs import prepare_download

        name = self._source_name(source)
        entry = None if name is None else self.config.source(name)
        options = self.options
        discovery = None
        if entry is not None:
            selection = replace(selection, source=entry.name)
            options = replace(options, credentials=download_credentials(entry))
            built = build_source(entry, verify_tls=self.options.verify_tls)
            discovery = Discovery(built, query, str(entry.dest))
        # One process: a caller's threads (Jupyter's) make forking unsafe.
        run = prepare_download(
            self.catalog,
            options,
            selection=selection,
            discovery=discovery,
            processes=1,
            params={"via": "python", "config": _path_text(self.config.path)},
        )
        self.last_result, interrupted = _run(run.run, cancel_event)
        if interrupted:
            raise KeyboardInterrupt  # after keeping the result: the caller asked to stop
        return int(self.last_result.summary.downloaded)


class _AnyOf:
    """Set as soon as one of its events is (the caller's ``cancel_event``, Ctrl-C)."""

    def __init__(self, *events: CancelEvent | None) -> None:
        self._events = [event for event in events if event is not None]

    def is_set(self) -> bool:
        return any(event.is_set() for event in self._events)


def _run(
    make: Callable[[asyncio.Event], Coroutine[Any, Any, T]], cancel_event: CancelEvent | None
) -> tuple[T, bool]:
    """Run ``make(cancel)`` to completion from synchronous code, loop or no loop.

    Returns what it returned, and whether Ctrl-C cancelled it (the caller raises
    KeyboardInterrupt once it has kept the result).
    """
    interrupted = threading.Event()
    cancel = _AnyOf(cancel_event, interrupted)
    with _ctrl_c_sets(interrupted):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            value = asyncio.run(_with_cancel(make, cancel))
        else:
            # A loop runs in this thread (Jupyter): it cannot be re-entered, so use our own.
            value = _on_worker_thread(lambda: asyncio.run(_with_cancel(make, cancel)))
    return value, interrupted.is_set()


@contextlib.contextmanager
def _ctrl_c_sets(interrupted: threading.Event) -> Iterator[None]:
    """Make the first SIGINT set ``interrupted`` instead of raising; a second raises.

    The handler replaces whatever handles SIGINT (Python's default, ``asyncio.run``'s,
    which only cancels its main task, blocked in this call) while the body runs. Only
    the main thread can handle signals, and a process told to ignore SIGINT keeps
    ignoring it: then the body simply runs.
    """
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield
        return

    def handle(signum: int, frame: object) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt  # the user insists: stop waiting for the wind-down
        interrupted.set()

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def _on_worker_thread(work: Callable[[], T]) -> T:
    """Run ``work`` on a new thread; wait for it here, where signal handlers still run.

    The worker blocks SIGINT, so the signal reaches this (main) thread and wakes its
    wait; the loops and threads the work starts inherit that mask.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            outcome.append(work())
        except BaseException as error:  # handed to the waiting thread
            failure.append(error)

    worker = threading.Thread(target=target, name="skyhaul-client", daemon=True)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return outcome[0]


async def _with_cancel(
    make: Callable[[asyncio.Event], Coroutine[Any, Any, T]], cancel_event: CancelEvent | None
) -> T:
    cancel = asyncio.Event()
    watcher = None
    if cancel_event is not None:
        watcher = asyncio.ensure_future(_watch(cancel_event, cancel))
    try:
        return await make(cancel)
    finally:
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)


async def _watch(external: CancelEvent, cancel: asyncio.Event) -> None:
    """Set ``cancel`` once ``external`` is set (it may be set from any thread).

    Polled: a ``threading.Event`` has no awaitable form, and waiting for it in a thread
    would leave that thread blocked forever when nobody ever sets it.
    """
    while not external.is_set():  # noqa: ASYNC110
        await asyncio.sleep(CANCEL_POLL)
    cancel.set()


def _time(value: TimeLike) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    try:
        return parse_utc(value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _window(start: TimeLike, end: TimeLike) -> TimeWindow:
    """Two times as a window (two texts as the CLI reads them: a date end is a whole day)."""
    try:
        if isinstance(start, str) and isinstance(end, str):
            return TimeWindow.parse(start, end)
        return TimeWindow(_time(start), _time(end))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _slot_window(slot: Any) -> tuple[datetime, datetime]:
    """A pass as exact bounds: a ``Slot`` or anything with ``start``/``end``, or a pair."""
    if isinstance(slot, tuple) and len(slot) == 2:
        start, end = slot
    elif isinstance(slot, dict):
        start, end = slot.get("start"), slot.get("end")
    else:
        start, end = getattr(slot, "start", None), getattr(slot, "end", None)
    if start is None or end is None:
        raise UsageError(f"a slot needs a start and an end, got {slot!r}")
    window = _window(_time(start), _time(end))
    return window.start, window.end


def _source_choice(source: str) -> SourceChoice:
    from skyhaul.services.mast_import import SourceChoice

    try:
        return SourceChoice(source.lower())
    except ValueError:
        choices = ", ".join(c.value for c in SourceChoice)
        raise UsageError(f"source {source!r} is not one of {choices}") from None


def _directory(path: str | os.PathLike[str]) -> Path:
    """The destination root, absolute, made if missing."""
    root = Path(path).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise UsageError(f"{os.fspath(path)}: not a directory")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _states(state: FileState | str | Iterable[FileState | str]) -> frozenset[FileState]:
    items = [state] if isinstance(state, FileState | str) else list(state)
    try:
        return frozenset(FileState(str(item).upper()) for item in items)
    except ValueError:
        names = ", ".join(s.value for s in FileState)
        raise UsageError(f"unknown state in {state!r}; states are {names}") from None


def _path_text(path: os.PathLike[str] | None) -> str | None:
    return None if path is None else os.fspath(path)
