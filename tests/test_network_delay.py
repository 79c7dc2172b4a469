"""A network delay is a durable timer between two service calls; no delay means no timer; the
status query names the delay while the saga waits in it.

A zero-second timer would still cost a round trip through the server: two more workflow tasks
per booking, which the throughput benchmark showed as bookings per second lost.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError

from book_workflow import BookingWorkflow
from shared import BookingInput, NetworkDelay
from tests.history import assert_replays
from tests.test_booking_workflow import wait_for

TRIP = BookingInput("Ada Lovelace", "Toyota Supra", "Hotel Adlon", "LH 404")


@pytest.mark.parametrize(("delay_seconds", "timers"), [(0, 0), (0.5, 2)])
@pytest.mark.usefixtures("worker")
async def test_a_timer_between_service_calls_only_when_there_is_a_delay(
    client: Client, task_queue: str, delay_seconds: float, timers: int
) -> None:
    handle = await client.start_workflow(
        BookingWorkflow.run,
        replace(TRIP, network_delay_seconds=delay_seconds),
        id=f"booking-test-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )
    assert (await handle.result()).outcome == "booked"

    history = await assert_replays(handle)
    started = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
    assert len(started) == timers


@pytest.mark.usefixtures("worker")
async def test_the_status_names_the_network_delay_the_saga_waits_in(
    client: Client, task_queue: str
) -> None:
    # Nothing awaits the result, so the time-skipping server lets the 30 s timer run in real
    # time: the saga sits in the delay before the hotel while the test looks.
    handle = await client.start_workflow(
        BookingWorkflow.run,
        replace(TRIP, network_delay_seconds=30),
        id=f"booking-test-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )
    await wait_for(handle, "booked", "car")

    status = await handle.query(BookingWorkflow.status)
    assert status.network_delay == NetworkDelay(before="hotel", seconds=30)
    assert [step.state for step in status.steps] == ["booked", "waiting", "waiting"]

    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert (await handle.query(BookingWorkflow.status)).network_delay is None
