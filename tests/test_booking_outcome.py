"""The outcome in the Temporal UI's list: the `BookingOutcome` search attribute.

On the time-skipping server (the session registers the attribute, as a worker does): a run that
starts with `BookingOutcome=pending` records how it ended; a run that starts without it records
nothing and ends as usual. The real dev servers, with and without the attribute, are in
tests/test_booking_outcome_servers.py.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from book_workflow import BookingWorkflow
from shared import BOOKING_OUTCOME, BookingResult, pending_outcome
from tests.test_booking_workflow import TRIP, wait_for


async def start(
    client: Client, task_queue: str, with_attribute: bool, **changes: Any
) -> WorkflowHandle[BookingWorkflow, BookingResult]:
    return await client.start_workflow(
        BookingWorkflow.run,
        replace(TRIP, **changes),
        id=f"booking-test-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        search_attributes=pending_outcome() if with_attribute else None,
    )


async def outcome_of(handle: WorkflowHandle[Any, Any]) -> str | None:
    return (await handle.describe()).typed_search_attributes.get(BOOKING_OUTCOME)


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({}, "booked"),
        ({"fail_at": "hotel"}, "rolled_back"),
        ({"failures_before_success": 8}, "rolled_back"),
    ],
)
@pytest.mark.usefixtures("worker")
async def test_a_booking_started_with_the_attribute_records_how_it_ended(
    client: Client, task_queue: str, changes: dict[str, Any], outcome: str
) -> None:
    handle = await start(client, task_queue, with_attribute=True, **changes)
    assert await outcome_of(handle) == "pending"

    assert (await handle.result()).outcome == outcome
    assert await outcome_of(handle) == outcome


@pytest.mark.usefixtures("worker")
async def test_a_cancelled_booking_records_cancelled(client: Client, task_queue: str) -> None:
    handle = await start(client, task_queue, with_attribute=True, network_delay_seconds=30)
    await wait_for(handle, "booked", "car")
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    assert await outcome_of(handle) == "cancelled"


@pytest.mark.usefixtures("worker")
async def test_a_booking_started_without_the_attribute_records_nothing_and_books(
    client: Client, task_queue: str
) -> None:
    handle = await start(client, task_queue, with_attribute=False, fail_at="flight")

    assert (await handle.result()).outcome == "rolled_back"
    assert await outcome_of(handle) is None
