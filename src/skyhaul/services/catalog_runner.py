"""Catalog calls from the event loop, on one dedicated thread.

Rules:
- The catalog adapter is synchronous; the engine must never block its loop on it.
- One thread serialises every call: SQLite allows one writer at a time anyway, and a
  single thread keeps the order of transitions the order in which they were asked.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class CatalogRunner:
    """Run catalog methods by name on a single worker thread.

    Parameters
    ----------
    catalog : object
        A :class:`skyhaul.adapters.catalog.Catalog` (or anything with the same methods).
    """

    def __init__(self, catalog: Any) -> None:
        self.catalog = catalog
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skyhaul-catalog")

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``catalog.<method>(*args, **kwargs)`` on the catalog thread."""
        function = functools.partial(getattr(self.catalog, method), *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    def close(self) -> None:
        """Finish queued calls and stop the thread."""
        self._executor.shutdown(wait=True)
