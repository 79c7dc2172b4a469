"""The worker: runs BookingWorkflow and the booking activities on the `booking-saga` queue.

python3 run_worker.py [--ledger data/bookings.sqlite3] [--service-latency 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

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


def build_worker(
    client: Client, activities: BookingActivities, task_queue: str = TASK_QUEUE
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
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ledger",
        type=Path,
        default=Path(os.environ.get("BOOKING_LEDGER", DEFAULT_LEDGER)),
        help="SQLite file of the simulated booking services (env BOOKING_LEDGER)",
    )
    parser.add_argument(
        "--service-latency",
        type=float,
        default=float(os.environ.get("BOOKING_SERVICE_LATENCY_SECONDS", "1.0")),
        help="seconds one booking service call takes (env BOOKING_SERVICE_LATENCY_SECONDS)",
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    # Signals first: a Ctrl-C while still connecting must stop the worker just as cleanly.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    config = connect_config()
    client = await connect(config)
    activities = BookingActivities(
        BookingServices(args.ledger), ServiceSettings(service_latency_seconds=args.service_latency)
    )
    async with build_worker(client, activities):
        logging.info(
            "Worker polling task queue %r on %s (namespace %s); Ctrl-C stops it",
            TASK_QUEUE,
            config["target_host"],
            config["namespace"],
        )
        await stop.wait()
        logging.info("Stopping: finishing the service calls in progress")
    logging.info("Worker stopped")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        asyncio.run(run(args))
    except TemporalUnreachable as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    exit_without_finalizing(main())
