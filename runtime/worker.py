"""Everything around the worker that the stage does not need: its command line, its tuning,
and running it until Ctrl-C.

`run_worker.py` hands `run_worker_command` a function that builds the worker; the benchmark's
no-op worker hands it another one and gets the same command line and behaviour.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from temporalio.client import Client
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker

from runtime import PROJECT_DIR
from runtime.connection import TemporalUnavailable, connect, connect_config
from runtime.environment import from_environment, refusal
from runtime.heartbeat import MAX_HEARTBEAT_INTERVAL
from runtime.process import configure_logging, exit_without_finalizing, stop_requested
from runtime.sandbox import compile_sandboxed_modules_once
from runtime.search_attributes import register_outcome_attribute

DEFAULT_LEDGER = PROJECT_DIR / "data" / "bookings.sqlite3"
GRACEFUL_SHUTDOWN = timedelta(seconds=5)
"""On Ctrl-C, a service call in progress gets this long to finish."""
STICKY_QUEUE_TIMEOUT = timedelta(seconds=1)
"""How long the server offers a workflow's next task to the worker that holds the workflow in
memory before it hands the task to any worker (the SDK's default: 10 s). A worker that was
killed never takes it: on stage, this is how long a booking waits for the restarted worker.
The price: a worker so busy that a task waits longer replays that workflow from its history
(docs/soak-and-benchmark.md has the figures); for such loads, `--sticky-queue-timeout 10`."""

WorkerFactory = Callable[[Client, argparse.Namespace], Worker]


@dataclass(frozen=True)
class WorkerTuning:
    """How much work one worker process takes on at once; None keeps the SDK's default."""

    max_concurrent_activities: int | None = None
    max_concurrent_workflow_tasks: int | None = None
    workflow_task_pollers: int | None = None
    activity_task_pollers: int | None = None
    max_cached_workflows: int | None = None
    sticky_queue_timeout: int | None = None
    """Seconds; None keeps the demo's STICKY_QUEUE_TIMEOUT."""

    def worker_options(self) -> dict[str, Any]:
        """The `Worker` keyword arguments for the options that are set."""
        options: dict[str, Any] = {
            "max_concurrent_activities": self.max_concurrent_activities,
            "max_concurrent_workflow_tasks": self.max_concurrent_workflow_tasks,
            "max_cached_workflows": self.max_cached_workflows,
        }
        if self.sticky_queue_timeout is not None:
            options["sticky_queue_schedule_to_start_timeout"] = timedelta(
                seconds=self.sticky_queue_timeout
            )
        if self.workflow_task_pollers is not None:
            options["workflow_task_poller_behavior"] = PollerBehaviorSimpleMaximum(
                self.workflow_task_pollers
            )
        if self.activity_task_pollers is not None:
            options["activity_task_poller_behavior"] = PollerBehaviorSimpleMaximum(
                self.activity_task_pollers
            )
        return {name: value for name, value in options.items() if value is not None}

    def command_line(self) -> list[str]:
        """The same tuning as `run_worker.py` options, for starting a worker process."""
        return [
            f"--{name.replace('_', '-')}={value}"
            for name, value in asdict(self).items()
            if value is not None
        ]


def worker_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `Worker` keyword arguments every worker of the demo runs with: its tuning from the
    command line, a graceful shutdown, a short sticky queue timeout, and heartbeats sent
    without delay."""
    return {
        "graceful_shutdown_timeout": GRACEFUL_SHUTDOWN,
        "sticky_queue_schedule_to_start_timeout": STICKY_QUEUE_TIMEOUT,
        "max_heartbeat_throttle_interval": MAX_HEARTBEAT_INTERVAL,
        **tuning_from_args(args).worker_options(),
    }


_TUNING_HELP = {
    "max_concurrent_activities": "activities this worker runs at once",
    "max_concurrent_workflow_tasks": "workflow tasks this worker runs at once",
    "workflow_task_pollers": "most concurrent polls for workflow tasks",
    "activity_task_pollers": "most concurrent polls for activity tasks",
    "max_cached_workflows": "workflows kept in memory between their tasks",
    "sticky_queue_timeout": "seconds a workflow's next task waits for the worker that holds it "
    "in memory before any worker may take it",
}
_TUNING_DEFAULTS = {"sticky_queue_timeout": "1, for a quick recovery on stage; the SDK's: 10"}


def tuning_parser() -> argparse.ArgumentParser:
    """The tuning options, for `run_worker.py` and any tool that starts workers."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("tuning (for benchmarks and the soak tool)")
    for name, help_text in _TUNING_HELP.items():
        variable = f"BOOKING_{name.upper()}"
        default = _TUNING_DEFAULTS.get(name, "the SDK's")
        group.add_argument(
            f"--{name.replace('_', '-')}",
            type=_positive_int,
            # argparse converts a text default with `type`, so a bad variable is refused too.
            default=from_environment(variable),
            metavar="N",
            help=f"{help_text} (env {variable}; default: {default})",
        )
    return parser


def _positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise refusal(text, "must be a whole number of at least 1")
    return int(text)


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise refusal(text, "must be a number of seconds, 0 or more")
    return seconds


def tuning_from_args(args: argparse.Namespace) -> WorkerTuning:
    return WorkerTuning(**{name: getattr(args, name) for name in _TUNING_HELP})


def services_parser() -> argparse.ArgumentParser:
    """The simulated services' options, for `run_worker.py` and the demo launcher."""
    parser = argparse.ArgumentParser(add_help=False)
    # Text defaults go through `type` too, so a bad environment variable is refused clearly.
    parser.add_argument(
        "--ledger",
        type=Path,
        default=from_environment("BOOKING_LEDGER", str(DEFAULT_LEDGER)),
        metavar="FILE",
        help="SQLite file of the simulated booking services (env BOOKING_LEDGER)",
    )
    parser.add_argument(
        "--service-latency",
        type=_seconds,
        default=from_environment("BOOKING_SERVICE_LATENCY_SECONDS", "1.0"),
        metavar="SECONDS",
        help="seconds one booking service call takes (env BOOKING_SERVICE_LATENCY_SECONDS)",
    )
    return parser


def parse_args(argv: list[str] | None = None, description: str | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[services_parser(), tuning_parser()],
    )
    return parser.parse_args(argv)


async def run_worker(args: argparse.Namespace, make_worker: WorkerFactory) -> None:
    """Connect, then run the worker `make_worker` builds until Ctrl-C or SIGTERM."""
    # First: a Ctrl-C while still connecting must stop the worker just as cleanly.
    stop = stop_requested()
    compile_sandboxed_modules_once()
    config = connect_config()
    client = await connect(config)
    await register_outcome_attribute(client)
    async with make_worker(client, args) as worker:
        logging.info(
            "Worker polling task queue %r on %s (namespace %s); Ctrl-C stops it",
            worker.task_queue,
            config["target_host"],
            config["namespace"],
        )
        try:
            await stop.wait()
        finally:
            logging.info("Stopping: finishing the service calls in progress")
    logging.info("Worker stopped")


def run_until_stopped(make_worker: WorkerFactory, description: str | None = None) -> NoReturn:
    """A worker process's whole life: its options, logging, the worker `make_worker` builds
    until Ctrl-C or SIGTERM (exit status 0), or one line and exit status 1 when no server
    answers."""
    args = parse_args(description=description)
    configure_logging()
    status = 0
    try:
        asyncio.run(run_worker(args, make_worker))
    except TemporalUnavailable as error:
        print(error, file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        logging.info("Worker stopped")
    exit_without_finalizing(status)
