"""Where a job runs (``--executor``, ``--broker``, ``--detach``, ``--messages``), and a
queued job handed to the workers and followed to its end.

Rules:
- Precedence, for the executor and the broker alike: the command-line option, else the
  environment (``SKYHAUL_EXECUTOR``, ``SKYHAUL_BROKER``), else ``executor``/``broker`` in
  the configuration file (``skyhaul.toml``), else ``local`` and the local Redis. The file
  is read only when something is still unset: a command told ``--executor local``, or
  given both, never reads it.
- An executor that is neither ``local`` nor ``celery`` is a one-line usage error (exit
  2) naming the option, or the file and its key.
- ``submit`` publishes a queued job on its kind's queue (``worker.app.queue_of``), then
  stewards it (``services.job_steward``: RUNNING with progress, cancel honoured) until its
  files are settled, ends it, prints its counts, and returns 0 when it succeeded (every
  file downloaded or ignored), else 1. With ``--detach`` it prints
  the job id and returns 0. Celery is imported only here, on that path.
- A broker that cannot be reached is a one-line error (exit 2) naming it (password
  redacted); the job stays queued, for the manager to publish again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

import typer

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.catalog.urls import catalog_url
from skyhaul.adapters.config import EXECUTORS, load_config
from skyhaul.cli.common import Terminal
from skyhaul.cli.options import CommonOptions
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.core.redact import redact_url
from skyhaul.errors import UsageError

__all__ = [
    "CELERY",
    "LOCAL",
    "BrokerOption",
    "Execution",
    "build_execution",
    "configured_broker",
    "submit",
]

#: Jobs run in this process.
LOCAL = "local"
#: Jobs run by Celery workers; the name jobs record (``params["executor"]``).
CELERY = "celery"

BrokerOption = Annotated[
    str | None,
    typer.Option(
        "--broker",
        envvar="SKYHAUL_BROKER",
        metavar="URL",
        help="Celery broker (redis://HOST:PORT/DB) \\[default: broker in skyhaul.toml, "
        "else redis://127.0.0.1:6379/0].",
        show_default=False,
    ),
]


@dataclass(frozen=True, slots=True)
class Execution:
    """Where a command's job runs.

    Parameters
    ----------
    executor : str or None
        ``local`` or ``celery``; None: not given (see :meth:`resolve`).
    broker : str or None
        The Celery broker URL; None: not given.
    detach : bool
        With celery: print the job id and return.
    messages : int
        With celery: how many messages, so how many workers may join the job at once.
    """

    executor: str | None = None
    broker: str | None = None
    detach: bool = False
    messages: int = 1

    @property
    def celery(self) -> bool:
        """Whether workers run the job."""
        return self.executor == CELERY

    def resolve(self, config: Path | None = None) -> Execution:
        """Fill what the options and the environment left unset from the configuration
        file (``config``, else ``$SKYHAUL_CONFIG``, else ``./skyhaul.toml``), then the
        defaults.

        Raises
        ------
        UsageError
            ``--executor`` (or ``SKYHAUL_EXECUTOR``) names no executor.
        ConfigError
            The file cannot be read, or its ``executor``/``broker`` is bad.
        """
        if self.executor is not None and self.executor not in EXECUTORS:
            raise UsageError(f"--executor {self.executor}: not {' or '.join(EXECUTORS)}")
        if self.executor == LOCAL or (self.executor is not None and self.broker is not None):
            return self
        loaded = load_config(config)
        return replace(
            self,
            executor=self.executor or loaded.executor or LOCAL,
            broker=self.broker or loaded.broker,
        )


def configured_broker(broker: str | None) -> str:
    """The broker of a worker, manager or listing: ``broker`` (the option, or
    ``SKYHAUL_BROKER``), else ``broker`` in the configuration file, else the local Redis.

    Raises
    ------
    ConfigError
        The configuration file cannot be read, or its ``broker`` is bad.
    """
    from skyhaul.worker.app import DEFAULT_BROKER

    return broker or load_config(None).broker or DEFAULT_BROKER


def build_execution(
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            envvar="SKYHAUL_EXECUTOR",
            metavar="NAME",
            help="local (this process) or celery (workers over a broker) \\[default: "
            "executor in skyhaul.toml, else local].",
            show_default=False,
        ),
    ] = None,
    broker: BrokerOption = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="With celery: print the job id and return.")
    ] = False,
    messages: Annotated[
        int,
        typer.Option(
            "--messages", min=1, help="With celery: how many workers may join the job at once."
        ),
    ] = 1,
) -> Execution:
    """Build the execution options (unresolved: see :meth:`Execution.resolve`)."""
    return Execution(executor=executor, broker=broker, detach=detach, messages=messages)


def submit(
    term: Terminal,
    common: CommonOptions,
    catalog: Catalog,
    job_id: int,
    kind: JobKind,
    execution: Execution,
    *,
    extra: Mapping[str, object] | None = None,
) -> int:
    """Publish queued job ``job_id`` on the queue of ``kind``; steward it to its end
    unless detached.

    ``extra`` joins the JSON summary (an import's products set aside). Returns the exit
    code (see the module rules).
    """
    from kombu.exceptions import OperationalError

    from skyhaul.services.job_steward import JobSteward, follow_job
    from skyhaul.worker.app import broker_url, make_app, publish_download, queue_of

    try:
        publish_download(
            make_app(execution.broker),
            job_id,
            catalog_url(common.catalog),
            copies=execution.messages,
            queue=queue_of(kind),
        )
    except OperationalError as error:
        where = redact_url(broker_url(execution.broker))
        message = f"cannot reach the broker {where}: {error} (job {job_id} stays queued)"
        raise UsageError(message) from None
    if execution.detach:
        term.out.print(str(job_id), highlight=False)
        return 0
    # Taken after publishing, so a broker that is down leaves the job queued; a manager
    # that adopted it meanwhile stewards it, and this follows it to its end all the same.
    final = follow_job(JobSteward(catalog, job_id))
    states = {s.value.lower(): n for s, n in sorted(catalog.job_file_states(job_id).items())}
    if term.json:
        term.emit_json({"job": job_id, "files": states, **(extra or {})})
    else:
        counts = ", ".join(f"{count:,} {state}" for state, count in states.items())
        term.out.print(f"job {job_id}: {counts or 'no files'}", highlight=False)
    done = set(states) <= {"downloaded", "ignored"}
    return 0 if done and final is JobState.SUCCEEDED else 1
