"""A service call heartbeats: a call longer than its heartbeat timeout still succeeds at once,
and the server hears from the worker while the call runs."""

from __future__ import annotations

from datetime import timedelta

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

SERVICE_LATENCY_SECONDS = 0.8
HEARTBEAT_TIMEOUT = timedelta(seconds=0.3)


@workflow.defn
class OneLongCall:
    """Books the car once, with a heartbeat timeout much shorter than the call, no retry."""

    @workflow.run
    async def run(self, booking: BookingInput) -> str:
        return await workflow.execute_activity_method(
            BookingActivities.book_car,
            booking,
            start_to_close_timeout=timedelta(seconds=10),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def test_a_call_longer_than_the_heartbeat_timeout_succeeds_on_its_first_attempt(
    client: Client, ledger: BookingServices, task_queue: str
) -> None:
    activities = BookingActivities(ledger, ServiceSettings(SERVICE_LATENCY_SECONDS))
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[OneLongCall],
        activities=[activities.book_car],
        **worker_options(parse_args([])),
    ):
        handle = await client.start_workflow(
            OneLongCall.run,
            BookingInput("Ada Lovelace", "Volvo EX30", "Hotel Adlon", "LH 404"),
            id=f"heartbeat-{task_queue}",
            task_queue=task_queue,
        )
        confirmation = await handle.result()

    assert confirmation == ledger.booked(handle.id)["car"].confirmation
    [car] = activity_runs(await handle.fetch_history())
    assert (car.outcome, car.attempt) == ("completed", 1)
