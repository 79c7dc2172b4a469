"""BookingWorkflow: book a car, a hotel and a flight, all or nothing (the saga pattern)."""

import asyncio
from datetime import timedelta
from functools import partial

from temporalio import exceptions, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities import HEARTBEAT_TIMEOUT, NON_RETRYABLE_BOOKING_ERRORS, BookingActivities
    from saga import CompensationError, Saga
    from shared import (
        BOOKING_OUTCOME,
        SERVICES,
        WORKFLOW_TYPE,
        BookingInput,
        BookingResult,
        BookingStatus,
        InvalidBookingInput,
        Outcome,
        Service,
        validate_booking_input,
    )

# Five failures before success retry visibly in the UI and still book within about 30 s
# (waits of 1, 1.5, 2, 2, 2 s per booking); from the 8th failed attempt on, it rolls back.
BOOKING_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=1.5,
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=8,
    non_retryable_error_types=list(NON_RETRYABLE_BOOKING_ERRORS),
)

# A bug needs a developer, not luck: the booking with a bug in its code retries every 5 s for
# 15 minutes, time to fix `activities.py` and restart the worker; the same run then carries on.
BUG_RETRY_POLICY = RetryPolicy(
    maximum_interval=timedelta(seconds=5),
    non_retryable_error_types=list(NON_RETRYABLE_BOOKING_ERRORS),
)
BUG_FIX_WINDOW = timedelta(minutes=15)

# An undo must happen in the end, so it retries for as long as it takes (no maximum
# attempts, nothing non-retryable), never waiting more than 10 s between two attempts.
COMPENSATION_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
)

SERVICE_CALL_TIMEOUT = timedelta(seconds=10)
BOOK = {
    "car": BookingActivities.book_car,
    "hotel": BookingActivities.book_hotel,
    "flight": BookingActivities.book_flight,
}
UNDO = {
    "car": BookingActivities.undo_book_car,
    "hotel": BookingActivities.undo_book_hotel,
    "flight": BookingActivities.undo_book_flight,
}


# These fail the run at once instead of retrying its task forever: TypeError is what decoding a
# malformed JSON input raises; CompensationError, an undo that failed for good (a changed policy).
@workflow.defn(
    name=WORKFLOW_TYPE,
    failure_exception_types=[InvalidBookingInput, TypeError, CompensationError],
)
class BookingWorkflow:
    @workflow.init
    def __init__(self, booking: BookingInput) -> None:
        self._status = BookingStatus.waiting(booking)

    @workflow.query
    def status(self) -> BookingStatus:
        return self._status

    @workflow.run
    async def run(self, booking: BookingInput) -> BookingResult:
        validate_booking_input(booking)
        saga = Saga(
            parallel_compensation=booking.parallel_compensation,
            continue_with_error=booking.continue_with_error,
        )
        try:
            for service in SERVICES:
                await self._shaky_network(service, booking.network_delay_seconds)
                # Pushed first: a call that timed out after the service took it needs undoing too.
                saga.add_compensation(partial(self._undo, service, booking))
                await self._book(service, booking)
        except (Exception, asyncio.CancelledError) as error:
            await self._roll_back(saga, error)
            # A cancel reaches a timer as CancelledError, an activity as its ActivityError.
            if exceptions.is_cancelled_exception(error):
                self._end("cancelled")
                raise
            return self._end("rolled_back")
        return self._end("booked")

    async def _shaky_network(self, before: Service, seconds: float) -> None:
        # No delay, no timer: a zero-second timer still costs a round trip to the server.
        if before != SERVICES[0] and seconds > 0:
            with self._status.waiting_on_network(before, seconds):
                await workflow.sleep(seconds, summary=f"Shaky network before the {before}")

    async def _book(self, service: Service, booking: BookingInput) -> None:
        has_bug = booking.bug_at == service
        with self._status.booking(service) as step:
            workflow.set_current_details(f"Booking {service}: {step.item}")
            step.confirmation = await workflow.execute_activity_method(
                BOOK[service],
                booking,
                start_to_close_timeout=SERVICE_CALL_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,  # a dead worker's call: retried in seconds
                schedule_to_close_timeout=BUG_FIX_WINDOW if has_bug else None,
                retry_policy=BUG_RETRY_POLICY if has_bug else BOOKING_RETRY_POLICY,
                summary=f"Book {service}: {step.item}",
            )

    async def _undo(self, service: Service, booking: BookingInput) -> None:
        with self._status.undoing(service) as step:
            workflow.set_current_details(f"Undoing {service}: {step.item}")
            await workflow.execute_activity_method(
                UNDO[service],
                booking,
                start_to_close_timeout=SERVICE_CALL_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=COMPENSATION_RETRY_POLICY,
                summary=f"Undo {service}: {step.item}",
            )

    async def _roll_back(self, saga: Saga, error: BaseException) -> None:
        self._status.rolling_back(because=error)
        compensation = asyncio.ensure_future(saga.compensate())
        try:
            await asyncio.shield(compensation)
        except asyncio.CancelledError:  # a cancel while undoing: the undos still run to the end
            await compensation
            self._end("cancelled")
            raise

    def _end(self, outcome: Outcome) -> BookingResult:
        workflow.set_current_details(self._status.conclude(outcome))
        # Only if the run started with it: an attribute the server does not know would fail
        # the workflow task again and again, and a workflow cannot ask the server.
        if workflow.info().typed_search_attributes.get(BOOKING_OUTCOME) is not None:
            workflow.upsert_search_attributes([BOOKING_OUTCOME.value_set(outcome)])
        return self._status.result()
