"""The worker: runs BookingWorkflow and its six activities, polling the `booking-saga` queue.

python3 run_worker.py [--ledger data/bookings.sqlite3] [--service-latency 1.0]

It finds the Temporal server through Temporal's environment configuration (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, TLS, API key; by default localhost:7233) and runs until Ctrl-C. Tuning
options for benchmarks: `--help`.
"""

from __future__ import annotations

import argparse
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities import BookingActivities, ServiceSettings
from book_workflow import BookingWorkflow
from runtime.worker import run_until_stopped, worker_options
from shared import TASK_QUEUE
from simulated_services import BookingServices


def build_worker(
    client: Client, activities: BookingActivities, task_queue: str = TASK_QUEUE, **options: Any
) -> Worker:
    """A worker that runs the booking saga: one workflow and its six activities."""
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
        **options,
    )


def booking_worker(client: Client, args: argparse.Namespace) -> Worker:
    """The worker this command runs, on the services' ledger file."""
    services = BookingServices(args.ledger)
    settings = ServiceSettings(service_latency_seconds=args.service_latency)
    return build_worker(client, BookingActivities(services, settings), **worker_options(args))


if __name__ == "__main__":
    run_until_stopped(booking_worker, description=__doc__)
