"""The worker: runs BookingWorkflow and the booking activities on the `booking-saga` queue.

python3 run_worker.py [--ledger data/bookings.sqlite3] [--service-latency 1.0]
                      [--max-concurrent-activities N] [--max-concurrent-workflow-tasks N]
                      [--workflow-task-pollers N] [--activity-task-pollers N]
                      [--max-cached-workflows N]

Each tuning option defaults to its environment variable (BOOKING_MAX_CONCURRENT_ACTIVITIES, ...)
and, when neither is set, to the Temporal SDK's own default.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker

from activities import BookingActivities, ServiceSettings
from book_workflow import BookingWorkflow
from booking_services import BookingServices
from shared import TASK_QUEUE
from temporal_connection import (
    TemporalUnreachable,
    connect,
    connect_config,
    exit_without_finalizing,
)

DEFAULT_LEDGER = Path(__file__).resolve().parent / "data" / "bookings.sqlite3"


@dataclass(frozen=True)
class WorkerTuning:
    """How much work one worker process takes on at once; None keeps the SDK's default."""

    max_concurrent_activities: int | None = None
    max_concurrent_workflow_tasks: int | None = None
    workflow_task_pollers: int | None = None
    activity_task_pollers: int | None = None
    max_cached_workflows: int | None = None

    def worker_options(self) -> dict[str, Any]:
        """The `Worker` keyword arguments for the options that are set."""
        options: dict[str, Any] = {
            "max_concurrent_activities": self.max_concurrent_activities,
            "max_concurrent_workflow_tasks": self.max_concurrent_workflow_tasks,
            "max_cached_workflows": self.max_cached_workflows,
        }
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


def build_worker(
    client: Client,
    activities: BookingActivities,
    task_queue: str = TASK_QUEUE,
    tuning: WorkerTuning | None = None,
) -> Worker:
    """The worker the demo runs; the tests build theirs here too."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BookingWorkflow],
        activities=[
            activities.book_car,
            activities.book_hotel,
            activities.book_flight,
            activities.undo_book_car,
            activities.undo_book_hotel,
            activities.undo_book_flight,
        ],
        # On Ctrl-C, a service call in progress gets this long to finish.
        graceful_shutdown_timeout=timedelta(seconds=5),
        **(tuning or WorkerTuning()).worker_options(),
    )


_TUNING_HELP = {
    "max_concurrent_activities": "activities this worker runs at once",
    "max_concurrent_workflow_tasks": "workflow tasks this worker runs at once",
    "workflow_task_pollers": "most concurrent polls for workflow tasks",
    "activity_task_pollers": "most concurrent polls for activity tasks",
    "max_cached_workflows": "workflows kept in memory between their tasks",
}


def tuning_parser() -> argparse.ArgumentParser:
    """The tuning options, for `run_worker.py` and any tool that starts workers."""
    parser = argparse.ArgumentParser(add_help=False)
    for name, help_text in _TUNING_HELP.items():
        variable = f"BOOKING_{name.upper()}"
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=_positive_int,
            # argparse converts a text default with `type`, so a bad variable is refused too.
            default=os.environ.get(variable),
            metavar="N",
            help=f"{help_text} (env {variable}; default: the SDK's)",
        )
    return parser


def _positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def tuning_from_args(args: argparse.Namespace) -> WorkerTuning:
    return WorkerTuning(**{name: getattr(args, name) for name in _TUNING_HELP})


def services_parser() -> argparse.ArgumentParser:
    """The simulated services' options, for `run_worker.py` and the demo launcher."""
    parser = argparse.ArgumentParser(add_help=False)
    # Text defaults go through `type` too, so a bad environment variable is refused clearly.
    parser.add_argument(
        "--ledger",
        type=Path,
        default=os.environ.get("BOOKING_LEDGER", str(DEFAULT_LEDGER)),
        metavar="FILE",
        help="SQLite file of the simulated booking services (env BOOKING_LEDGER)",
    )
    parser.add_argument(
        "--service-latency",
        type=float,
        default=os.environ.get("BOOKING_SERVICE_LATENCY_SECONDS", "1.0"),
        metavar="SECONDS",
        help="seconds one booking service call takes (env BOOKING_SERVICE_LATENCY_SECONDS)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], parents=[services_parser(), tuning_parser()]
    )
    return parser.parse_args(argv)


WorkerFactory = Callable[[Client, argparse.Namespace], Worker]


def booking_worker(client: Client, args: argparse.Namespace) -> Worker:
    activities = BookingActivities(
        BookingServices(args.ledger), ServiceSettings(service_latency_seconds=args.service_latency)
    )
    return build_worker(client, activities, tuning=tuning_from_args(args))


async def run(args: argparse.Namespace, make_worker: WorkerFactory = booking_worker) -> None:
    # Signals first: a Ctrl-C while still connecting must stop the worker just as cleanly.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    config = connect_config()
    client = await connect(config)
    worker = make_worker(client, args)
    async with worker:
        logging.info(
            "Worker polling task queue %r on %s (namespace %s); Ctrl-C stops it",
            worker.task_queue,
            config["target_host"],
            config["namespace"],
        )
        await stop.wait()
        logging.info("Stopping: finishing the service calls in progress")
    logging.info("Worker stopped")


def main(argv: list[str] | None = None, make_worker: WorkerFactory = booking_worker) -> int:
    """Run a worker from the command line; the benchmark's no-op worker runs through here too."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        asyncio.run(run(args, make_worker))
    except TemporalUnreachable as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    exit_without_finalizing(main())
