"""A network delay is a durable timer between two service calls; no delay means no timer.

A zero-second timer would still cost a round trip through the server: two more workflow tasks
per booking, which the throughput benchmark showed as bookings per second lost.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from book_workflow import BookingWorkflow
from shared import BookingInput
from tests.history import assert_replays

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
