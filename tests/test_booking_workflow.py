"""Every scenario of the demo, on the time-skipping test server (or the server you choose)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError, CancelledError

from activities import HEARTBEAT_TIMEOUT, BookingActivities, ServiceSettings
from book_workflow import BOOKING_RETRY_POLICY, BookingWorkflow
from run_worker import build_worker
from shared import WORKFLOW_TYPE, BookingInput, BookingResult, FailAt
from simulated_services import BookingServices
from tests.history import (
    activity_runs,
    assert_replays,
    compensation_order,
    undos_scheduled_before_the_first_closed,
    workflow_clock_seconds,
)
from tests.test_crash_recovery import wait_until

TRIP = BookingInput(
    name="Ada Lovelace",
    car="Toyota Supra",
    hotel="Hotel Adlon",
    flight="LH 404",
    network_delay_seconds=0,
)


async def start(
    client: Client, task_queue: str, booking: BookingInput
) -> WorkflowHandle[BookingWorkflow, BookingResult]:
    return await client.start_workflow(
        BookingWorkflow.run,
        booking,
        id=f"booking-test-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )


async def book(
    client: Client, task_queue: str, booking: BookingInput
) -> tuple[BookingResult, WorkflowHandle[BookingWorkflow, BookingResult]]:
    handle = await start(client, task_queue, booking)
    return await handle.result(), handle


@pytest.mark.usefixtures("worker")
async def test_happy_path_books_all_three(
    client: Client, task_queue: str, ledger: BookingServices
) -> None:
    result, handle = await book(client, task_queue, TRIP)

    assert result.outcome == "booked"
    assert result.compensations == []
    assert result.undone == {}
    booked = ledger.booked(handle.id)
    assert {service: r.confirmation for service, r in booked.items()} == result.booked
    assert {service: r.item for service, r in booked.items()} == {
        "car": "Toyota Supra",
        "hotel": "Hotel Adlon",
        "flight": "LH 404",
    }
    history = await assert_replays(handle)
    assert [run.activity_type for run in activity_runs(history)] == [
        "book_car",
        "book_hotel",
        "book_flight",
    ]


@pytest.mark.usefixtures("worker")
async def test_five_failures_before_success_are_retried_by_temporal(
    client: Client, task_queue: str, ledger: BookingServices
) -> None:
    result, handle = await book(client, task_queue, replace(TRIP, failures_before_success=5))

    assert result.outcome == "booked"
    assert len(ledger.booked(handle.id)) == 3
    runs = activity_runs(await assert_replays(handle))
    assert [(run.activity_type, run.attempt, run.outcome) for run in runs] == [
        ("book_car", 6, "completed"),
        ("book_hotel", 6, "completed"),
        ("book_flight", 6, "completed"),
    ]


@pytest.mark.parametrize(
    ("fail_at", "expected_undo_order"),
    [
        ("car", ["undo_book_car"]),
        ("hotel", ["undo_book_hotel", "undo_book_car"]),
        ("flight", ["undo_book_flight", "undo_book_hotel", "undo_book_car"]),
    ],
)
@pytest.mark.usefixtures("worker")
async def test_a_rejected_booking_rolls_back_what_was_attempted_in_reverse_order(
    client: Client,
    task_queue: str,
    ledger: BookingServices,
    fail_at: FailAt,
    expected_undo_order: list[str],
) -> None:
    result, handle = await book(client, task_queue, replace(TRIP, fail_at=fail_at))

    assert result.outcome == "rolled_back"
    assert result.compensations == expected_undo_order
    assert result.error == (
        f"BookingRejected: {fail_at} booking rejected: no {getattr(TRIP, fail_at)} available"
    )
    assert ledger.booked(handle.id) == {}
    # Nothing is named booked: what the services took and gave back is under `undone`.
    assert result.booked == {}
    assert result.undone == {
        row.service: row.confirmation for row in ledger.reservations(handle.id) if row.confirmation
    }
    assert sorted(result.undone) == sorted(
        undo[len("undo_book_") :] for undo in expected_undo_order[1:]
    )
    history = await assert_replays(handle)
    assert compensation_order(history) == expected_undo_order
    # BookingRejected really matches the policy's non-retryable types: one attempt, no retry.
    rejected = next(run for run in activity_runs(history) if run.activity_type == f"book_{fail_at}")
    assert (rejected.outcome, rejected.attempt, rejected.failure_type) == (
        "failed",
        1,
        "BookingRejected",
    )
    assert rejected.failure_type in (BOOKING_RETRY_POLICY.non_retryable_error_types or [])
    # Every call, booking or undo, heartbeats: a killed worker's call is retried in seconds.
    timeouts = {
        event.activity_task_scheduled_event_attributes.activity_type.name: (
            event.activity_task_scheduled_event_attributes.heartbeat_timeout.ToTimedelta()
        )
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    assert set(timeouts) == {f"book_{fail_at}", *expected_undo_order} | {
        run.activity_type for run in activity_runs(history)
    }
    assert set(timeouts.values()) == {HEARTBEAT_TIMEOUT}
    status = await handle.query(BookingWorkflow.status)
    rejected_step = next(step for step in status.steps if step.service == fail_at)
    assert (rejected_step.state, rejected_step.last_error) == ("failed", result.error)


@pytest.mark.usefixtures("worker")
async def test_retries_then_a_flight_failure_still_rolls_back(
    client: Client, task_queue: str, ledger: BookingServices
) -> None:
    booking = replace(TRIP, failures_before_success=5, fail_at="flight")
    result, handle = await book(client, task_queue, booking)

    assert result.outcome == "rolled_back"
    assert ledger.booked(handle.id) == {}
    runs = activity_runs(await assert_replays(handle))
    assert [(run.activity_type, run.attempt, run.outcome) for run in runs] == [
        ("book_car", 6, "completed"),
        ("book_hotel", 6, "completed"),
        ("book_flight", 6, "failed"),
        ("undo_book_flight", 1, "completed"),
        ("undo_book_hotel", 1, "completed"),
        ("undo_book_car", 1, "completed"),
    ]


@pytest.mark.usefixtures("worker")
async def test_more_failures_than_maximum_attempts_roll_back(
    client: Client, task_queue: str, ledger: BookingServices
) -> None:
    maximum_attempts = BOOKING_RETRY_POLICY.maximum_attempts
    result, handle = await book(
        client, task_queue, replace(TRIP, failures_before_success=maximum_attempts)
    )

    assert result.outcome == "rolled_back"
    assert result.compensations == ["undo_book_car"]
    assert ledger.booked(handle.id) == {}
    car = activity_runs(await assert_replays(handle))[0]
    assert (car.activity_type, car.attempt, car.failure_type) == (
        "book_car",
        maximum_attempts,
        "ServiceUnavailable",
    )


@pytest.mark.usefixtures("worker")
async def test_a_failing_compensation_is_retried_until_it_succeeds(
    client: Client, task_queue: str, ledger: BookingServices
) -> None:
    booking = replace(TRIP, fail_at="flight", compensation_failures=3)
    result, handle = await book(client, task_queue, booking)

    assert result.outcome == "rolled_back"
    assert ledger.booked(handle.id) == {}
    undos = [
        run
        for run in activity_runs(await assert_replays(handle))
        if run.activity_type.startswith("undo_")
    ]
    assert [(run.activity_type, run.attempt, run.outcome) for run in undos] == [
        ("undo_book_flight", 4, "completed"),
        ("undo_book_hotel", 4, "completed"),
        ("undo_book_car", 4, "completed"),
    ]


@pytest.mark.usefixtures("worker")
async def test_parallel_compensation_undoes_everything(
    client: Client, task_queue: str, ledger: BookingServices
) -> None:
    booking = replace(TRIP, fail_at="flight", parallel_compensation=True)
    result, handle = await book(client, task_queue, booking)

    assert result.outcome == "rolled_back"
    assert sorted(result.compensations) == ["undo_book_car", "undo_book_flight", "undo_book_hotel"]
    assert ledger.booked(handle.id) == {}
    history = await assert_replays(handle)
    # They really overlapped: all three undos were scheduled before the first one finished
    # (one by one, the hotel's undo is scheduled only once the flight's has completed).
    assert undos_scheduled_before_the_first_closed(history) == [
        "undo_book_flight",
        "undo_book_hotel",
        "undo_book_car",
    ]
    assert sorted(compensation_order(history)) == sorted(result.compensations)


async def wait_for(
    handle: WorkflowHandle[BookingWorkflow, BookingResult], state: str, service: str
) -> None:
    """Poll the workflow's status query until a step reaches a state (at most 10 s)."""
    async with asyncio.timeout(10):
        while True:
            status = await handle.query(BookingWorkflow.status)
            if any(step.service == service and step.state == state for step in status.steps):
                return
            await asyncio.sleep(0.05)


@pytest.mark.usefixtures("worker")
async def test_cancelling_mid_saga_rolls_back(
    client: Client, task_queue: str, ledger: BookingServices
) -> None:
    # A long shaky-network timer holds the saga between the car and the hotel.
    handle = await start(client, task_queue, replace(TRIP, network_delay_seconds=30))
    await wait_for(handle, "booked", "car")
    assert set(ledger.booked(handle.id)) == {"car"}

    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    assert isinstance(failure.value.cause, CancelledError)
    assert ledger.booked(handle.id) == {}
    history = await assert_replays(handle)
    assert compensation_order(history) == ["undo_book_car"]
    status = await handle.query(BookingWorkflow.status)
    assert (status.outcome, status.error) == ("cancelled", "cancelled")
    assert [step.state for step in status.steps] == ["undone", "skipped", "skipped"]
    assert status.result().booked == {}
    assert status.result().undone == {"car": ledger.reservations(handle.id)[0].confirmation}


@pytest.mark.usefixtures("worker")
async def test_cancelling_while_temporal_retries_a_booking_ends_cancelled(
    client: Client, task_queue: str, ledger: BookingServices
) -> None:
    # Nothing awaits the result, so the retries wait in real time: the cancel finds the car
    # between two attempts, where the workflow learns of it from the cancelled activity.
    handle = await start(client, task_queue, replace(TRIP, failures_before_success=8))

    async def car_retrying() -> bool:
        pending = (await handle.describe()).raw_description.pending_activities
        return any(activity.attempt >= 2 for activity in pending)

    await wait_until(car_retrying, "the car booking retries", within=10)
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    assert isinstance(failure.value.cause, CancelledError)
    status = await handle.query(BookingWorkflow.status)
    assert status.outcome == "cancelled"
    assert compensation_order(await assert_replays(handle)) == ["undo_book_car"]
    assert ledger.booked(handle.id) == {}


@pytest.mark.usefixtures("worker")
async def test_a_cancel_while_compensating_does_not_stop_the_rollback(
    client: Client, task_queue: str, ledger: BookingServices
) -> None:
    booking = replace(TRIP, fail_at="flight", compensation_failures=4)
    handle = await start(client, task_queue, booking)
    await wait_for(handle, "compensating", "flight")

    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    assert isinstance(failure.value.cause, CancelledError)
    assert ledger.booked(handle.id) == {}
    history = await assert_replays(handle)
    assert compensation_order(history) == ["undo_book_flight", "undo_book_hotel", "undo_book_car"]
    status = await handle.query(BookingWorkflow.status)
    assert status.outcome == "cancelled"
    assert [step.state for step in status.steps] == ["undone", "undone", "failed"]
    assert status.compensations == compensation_order(history)


@pytest.mark.usefixtures("worker")
async def test_network_delays_are_durable_timers_on_the_workflow_clock(
    client: Client, task_queue: str
) -> None:
    result, handle = await book(client, task_queue, replace(TRIP, network_delay_seconds=3))

    assert result.outcome == "booked"
    history = await assert_replays(handle)
    timers = [
        event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    fired = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED]
    assert timers == [timedelta(seconds=3), timedelta(seconds=3)]
    assert len(fired) == 2
    # The workflow waited them out on its own clock (which the time-skipping server moves on
    # at once, so this test takes no six real seconds there).
    assert workflow_clock_seconds(history) >= 6


@pytest.mark.parametrize(
    ("raw_input", "field_named"),
    [
        ({**TRIP.__dict__, "failures_before_success": 99}, "failures_before_success"),
        ({**TRIP.__dict__, "fail_at": "boat"}, "fail_at"),
        ({**TRIP.__dict__, "name": "   "}, "name"),
        ({**TRIP.__dict__, "failures_before_success": "five"}, "failures_before_success"),
        ({key: value for key, value in TRIP.__dict__.items() if key != "hotel"}, "hotel"),
    ],
)
@pytest.mark.usefixtures("worker")
async def test_an_invalid_input_fails_the_workflow_at_once_without_a_retry_loop(
    client: Client, task_queue: str, raw_input: dict[str, Any], field_named: str
) -> None:
    # Raw JSON, as `temporal workflow start --input` sends it, skipping our own validation.
    handle = await client.start_workflow(
        WORKFLOW_TYPE, raw_input, id=f"booking-test-{uuid.uuid4().hex[:8]}", task_queue=task_queue
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await asyncio.wait_for(handle.result(), timeout=10)

    messages = []
    error: BaseException | None = failure.value
    while error is not None:
        messages.append(str(error))
        error = error.__cause__
    assert any(field_named in message for message in messages), messages
    assert isinstance(failure.value.cause, ApplicationError)
    assert activity_runs(await handle.fetch_history()) == []


@pytest.mark.usefixtures("worker")
async def test_the_temporal_ui_shows_each_step_with_its_summary_and_retry_policy(
    client: Client, task_queue: str
) -> None:
    booking = replace(TRIP, fail_at="flight", network_delay_seconds=1)
    result, handle = await book(client, task_queue, booking)
    assert result.outcome == "rolled_back"
    history = await handle.fetch_history()
    converter = client.data_converter.payload_converter

    scheduled = [
        event.activity_task_scheduled_event_attributes
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    summaries = [
        converter.from_payload(event.user_metadata.summary, str)
        for event in history.events
        if event.event_type
        in (EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, EventType.EVENT_TYPE_TIMER_STARTED)
    ]
    assert summaries == [
        "Book car: Toyota Supra",
        "Shaky network before the hotel",
        "Book hotel: Hotel Adlon",
        "Shaky network before the flight",
        "Book flight: LH 404",
        "Undo flight: LH 404",
        "Undo hotel: Hotel Adlon",
        "Undo car: Toyota Supra",
    ]
    bookings, undos = scheduled[:3], scheduled[3:]
    for booking_step in bookings:
        policy = booking_step.retry_policy
        assert policy.maximum_attempts == 8
        assert policy.maximum_interval.ToTimedelta() == timedelta(seconds=2)
        assert list(policy.non_retryable_error_types) == ["BookingRejected", "ReservationCancelled"]
    for undo in undos:
        policy = undo.retry_policy
        assert policy.maximum_attempts == 0, "an undo retries until it succeeds"
        assert policy.maximum_interval.ToTimedelta() == timedelta(seconds=10)
        assert list(policy.non_retryable_error_types) == []
        assert undo.start_to_close_timeout.ToTimedelta() == timedelta(seconds=10)


class HotelUndoFailsForGood(BookingActivities):
    """The real activities, but the hotel's undo fails in a way no retry can fix."""

    @activity.defn(name="undo_book_hotel")
    async def undo_book_hotel(self, booking: BookingInput) -> str:
        raise ApplicationError("the hotel service is gone for good", non_retryable=True)


@pytest.mark.parametrize(
    ("continue_with_error", "undos_done"),
    [(True, ["undo_book_flight", "undo_book_car"]), (False, ["undo_book_flight"])],
)
async def test_an_undo_that_fails_for_good_fails_the_run_after_the_undos_it_may_still_do(
    client: Client,
    task_queue: str,
    ledger: BookingServices,
    continue_with_error: bool,
    undos_done: list[str],
) -> None:
    booking = replace(TRIP, fail_at="flight", continue_with_error=continue_with_error)
    services = HotelUndoFailsForGood(ledger, ServiceSettings(service_latency_seconds=0))
    async with build_worker(client, services, task_queue=task_queue):
        handle = await start(client, task_queue, booking)
        with pytest.raises(WorkflowFailureError) as failure:
            await asyncio.wait_for(handle.result(), timeout=30)

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "CompensationError"
    assert cause.message.startswith("1 compensation(s) failed: ")
    history = await assert_replays(handle)
    assert compensation_order(history) == undos_done
    hotel_undo = next(r for r in activity_runs(history) if r.activity_type == "undo_book_hotel")
    assert (hotel_undo.outcome, hotel_undo.attempt, hotel_undo.non_retryable) == ("failed", 1, True)
    assert set(ledger.booked(handle.id)) == ({"hotel"} if continue_with_error else {"car", "hotel"})
