"""BookingWorkflow: book a car, a hotel and a flight, all or nothing (the saga pattern)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import NON_RETRYABLE_BOOKING_ERRORS, BookingActivities
    from saga import CompensationError, Saga
    from shared import (
        SERVICES,
        WORKFLOW_TYPE,
        BookingInput,
        BookingResult,
        BookingStatus,
        InvalidBookingInput,
        Service,
        StepStatus,
        booking_item,
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


def _root_cause(error: BaseException) -> str:
    """The innermost message of a chain like ActivityError -> ApplicationError."""
    while error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    return str(error) or type(error).__name__


# TypeError is what decoding a malformed JSON input raises (a missing field, text where a
# number belongs): listing it fails the run at once instead of retrying its task forever.
@workflow.defn(name=WORKFLOW_TYPE, failure_exception_types=[InvalidBookingInput, TypeError])
class BookingWorkflow:
    @workflow.init
    def __init__(self, booking: BookingInput) -> None:
        self._status = BookingStatus(
            steps=[StepStatus(service, booking_item(booking, service)) for service in SERVICES]
        )

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
            for index, service in enumerate(SERVICES):
                # No delay, no timer: a zero-second timer still costs a round trip to the server.
                if index > 0 and booking.network_delay_seconds > 0:
                    await workflow.sleep(
                        booking.network_delay_seconds, summary="Shaky network between services"
                    )
                # Pushed before the booking: a booking that timed out after the service
                # took it must still be undone.
                saga.add_compensation(partial(self._undo, service, booking))
                await self._book(service, booking)
        except (Exception, asyncio.CancelledError) as error:
            self._status.error = _root_cause(error)
            await self._compensate(saga)
            if isinstance(error, asyncio.CancelledError):
                self._status.outcome = "cancelled"
                raise
            self._status.outcome = "rolled_back"
            workflow.set_current_details(f"Rolled back: {self._status.error}")
            return self._result()
        self._status.outcome = "booked"
        workflow.set_current_details("Booked: car, hotel and flight")
        return self._result()

    async def _book(self, service: Service, booking: BookingInput) -> None:
        step = self._step(service)
        step.state = "booking"
        workflow.set_current_details(f"Booking {service}: {step.item}")
        try:
            step.confirmation = await workflow.execute_activity_method(
                BOOK[service],
                booking,
                start_to_close_timeout=SERVICE_CALL_TIMEOUT,
                retry_policy=BOOKING_RETRY_POLICY,
                summary=f"Book {service}: {step.item}",
            )
        except (Exception, asyncio.CancelledError) as error:
            step.state = "failed"
            step.last_error = _root_cause(error)
            raise
        step.state = "booked"

    async def _undo(self, service: Service, booking: BookingInput) -> None:
        step = self._step(service)
        step.state = "compensating"
        workflow.set_current_details(f"Undoing {service}: {step.item}")
        await workflow.execute_activity_method(
            UNDO[service],
            booking,
            start_to_close_timeout=SERVICE_CALL_TIMEOUT,
            retry_policy=COMPENSATION_RETRY_POLICY,
            summary=f"Undo {service}: {step.item}",
        )
        step.state = "undone"
        self._status.compensations.append(f"undo_book_{service}")

    async def _compensate(self, saga: Saga) -> None:
        compensation = asyncio.ensure_future(saga.compensate())
        try:
            try:
                await asyncio.shield(compensation)
            except asyncio.CancelledError:
                # A cancel that arrives while undoing must not stop the undo half way.
                await compensation
                raise
        except CompensationError as error:
            raise ApplicationError(
                f"Rollback incomplete: {error}", type="CompensationFailed", non_retryable=True
            ) from error

    def _step(self, service: Service) -> StepStatus:
        return next(step for step in self._status.steps if step.service == service)

    def _result(self) -> BookingResult:
        assert self._status.outcome is not None
        return BookingResult(
            outcome=self._status.outcome,
            confirmations={
                step.service: step.confirmation
                for step in self._status.steps
                if step.confirmation is not None
            },
            compensations=list(self._status.compensations),
            error=self._status.error,
        )
