"""A service call heartbeats: a call longer than its heartbeat timeout still succeeds at once,
and the server hears from the worker while the call runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from activities import BookingActivities, ServiceSettings
    from runtime.worker import parse_args, worker_options
    from shared import BookingInput
    from simulated_services import BookingServices
    from tests.history import activity_runs

SERVICE_LATENCY_SECONDS = 1.2
HEARTBEAT_TIMEOUT = timedelta(seconds=0.5)


@workflow.defn
class OneLongCall:
    """Calls one activity once, with a heartbeat timeout much shorter than the call, no retry."""

    @workflow.run
    async def run(self, activity_type: str, booking: BookingInput) -> str:
        said: str = await workflow.execute_activity(
            activity_type,
            booking,
            result_type=str,
            start_to_close_timeout=timedelta(seconds=10),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        return said


@pytest.mark.parametrize("activity_type", ["book_car", "undo_book_car"])
async def test_a_call_longer_than_the_heartbeat_timeout_succeeds_on_its_first_attempt(
    client: Client, ledger: BookingServices, task_queue: str, activity_type: str
) -> None:
    activities = BookingActivities(ledger, ServiceSettings(SERVICE_LATENCY_SECONDS))
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[OneLongCall],
        activities=[activities.book_car, activities.undo_book_car],
        **worker_options(parse_args([])),
    ):
        handle = await client.start_workflow(
            OneLongCall.run,
            args=[
                activity_type,
                BookingInput("Ada Lovelace", "Volvo EX30", "Hotel Adlon", "LH 404"),
            ],
            id=f"heartbeat-{task_queue}",
            task_queue=task_queue,
        )
        confirmation = await handle.result()

    if activity_type == "book_car":
        assert confirmation == ledger.booked(handle.id)["car"].confirmation
    else:
        assert confirmation == "nothing to undo: no car was booked"
    [call] = activity_runs(await handle.fetch_history())
    assert (call.activity_type, call.outcome, call.attempt) == (activity_type, "completed", 1)
