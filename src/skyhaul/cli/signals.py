"""The command line's own signal handling, outside a run.

Rules:
- SIGTERM outside a run raises ``KeyboardInterrupt``, like Ctrl-C (exit 130). During a
  run, ``skyhaul.services.cancellation.run_cancellable`` handles both signals.
"""

from __future__ import annotations

import signal
import threading

from skyhaul.services.cancellation import EXIT_INTERRUPTED

__all__ = ["EXIT_INTERRUPTED", "terminate_as_interrupt"]


def terminate_as_interrupt() -> None:
    """Make SIGTERM raise ``KeyboardInterrupt`` outside a run, like Ctrl-C (exit 130).

    For the console script only: it changes process-wide state.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)
