"""The web form: every trip booked on http://127.0.0.1:8000 starts a BookingWorkflow.

python3 run_workflow.py [--host 127.0.0.1] [--port 8000] [--temporal-ui http://localhost:8080]

It finds the Temporal server as the worker does, through Temporal's environment configuration
(TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key; by default localhost:7233). The pages,
their security and the app's one Temporal client live in the `web_form` package.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from flask import Flask
from temporalio.client import Client
from temporalio.common import (
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from book_workflow import BookingWorkflow
from runtime.process import exit_without_finalizing
from shared import BookingInput, booking_details, booking_summary
from web_form import create_app as create_web_form
from web_form.gateway import RPC_TIMEOUT
from web_form.options import serve_until_stopped


async def start_booking(
    client: Client,
    booking: BookingInput,
    workflow_id: str,
    task_queue: str,
    search_attributes: TypedSearchAttributes,
) -> None:
    """Start the saga of one booking; the form calls this when "Book the trip" is clicked.

    The form derives `workflow_id` from what was submitted, so a double click or a reload
    of the same form reaches the first run instead of booking the trip twice. It passes
    `BookingOutcome=pending` as `search_attributes` where the server knows that attribute.
    """
    # After that run has finished, the id is refused: the form shows the finished booking.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            BookingWorkflow.run,
            booking,
            id=workflow_id,
            task_queue=task_queue,  # the queue run_worker.py polls
            static_summary=booking_summary(booking),  # the run's title in the Temporal UI
            static_details=booking_details(booking),  # what was broken, on the run's page
            search_attributes=search_attributes,  # the UI's list filters on BookingOutcome
            # A second submit while the first runs joins it...
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # ...and one after it has finished is refused, so a trip is never booked twice.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            rpc_timeout=RPC_TIMEOUT,  # the form answers within seconds, whatever the server does
        )


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The web form's Flask app, starting bookings with `start_booking`."""
    return create_web_form(start_booking, config)


if __name__ == "__main__":
    exit_without_finalizing(serve_until_stopped(create_app, description=__doc__))
