"""The booking activities: one call to a (simulated) booking service each.

There is no retry logic here, on purpose: an activity just raises, and Temporal retries it
according to the retry policy in `book_workflow.py`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from runtime.heartbeat import heartbeating
from shared import BookingInput, Service, booking_item
from simulated_services import BookingServices, ReservationCancelled

log = logging.getLogger("booking.activities")


class InjectedFailure(ApplicationError):
    """A failure the presenter asked for. The error type is the class name. Benign: the
    worker logs our one line per attempt instead of a traceback per attempt, and the
    Temporal UI still shows the failure and its stack trace."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message, type=type(self).__name__, category=ApplicationErrorCategory.BENIGN
        )


class ServiceUnavailable(InjectedFailure):
    """A passing failure (the service is down for a moment): Temporal retries it."""


class BookingRejected(InjectedFailure):
    """The service refuses the booking for good: the retry policy lists this type as
    non-retryable, so the workflow gets the failure at once and rolls back."""


# Both name failures that no retry can fix; the booking retry policy lists them.
NON_RETRYABLE_BOOKING_ERRORS = (BookingRejected.__name__, ReservationCancelled.__name__)
# A call heartbeats while its service works: if its worker dies, Temporal retries the call once
# this long passes without a heartbeat, instead of after its whole start-to-close timeout.
HEARTBEAT_TIMEOUT = timedelta(seconds=2)


def _booking_workflow_id(info: activity.Info) -> str:
    """The workflow id is half of the idempotency key, so a booking needs one."""
    if info.workflow_id is None:
        raise BookingRejected("a booking activity must run inside a booking workflow")
    return info.workflow_id


@dataclass(frozen=True)
class ServiceSettings:
    service_latency_seconds: float = 1.0
    """How long one call to a booking service takes: the artificial sleep."""


class BookingActivities:
    """Activities as methods, so the worker hands them their services and settings."""

    def __init__(self, services: BookingServices, settings: ServiceSettings) -> None:
        self.services = services
        self.settings = settings

    @activity.defn
    async def book_car(self, booking: BookingInput) -> str:
        return await self._book("car", booking)

    @activity.defn
    async def book_hotel(self, booking: BookingInput) -> str:
        return await self._book("hotel", booking)

    @activity.defn
    async def book_flight(self, booking: BookingInput) -> str:
        return await self._book("flight", booking)

    @activity.defn
    async def undo_book_car(self, booking: BookingInput) -> str:
        return await self._undo("car", booking)

    @activity.defn
    async def undo_book_hotel(self, booking: BookingInput) -> str:
        return await self._undo("hotel", booking)

    @activity.defn
    async def undo_book_flight(self, booking: BookingInput) -> str:
        return await self._undo("flight", booking)

    async def _book(self, service: Service, booking: BookingInput) -> str:
        """Return the confirmation number of the reservation. The booking the form gives a bug
        fails on the line marked BUG, after the service took it, on every attempt."""
        info = activity.info()
        workflow_id = _booking_workflow_id(info)
        try:
            if info.attempt <= booking.failures_before_success:
                raise ServiceUnavailable(f"{service} service unavailable")
            await heartbeating(asyncio.sleep(self.settings.service_latency_seconds))
            if booking.fail_at == service:
                raise BookingRejected(
                    f"{service} booking rejected: no {booking_item(booking, service)} available"
                )
            reservation = await asyncio.to_thread(
                self.services.reserve,
                workflow_id,
                service,
                booking_item(booking, service),
                booking.name,
            )
            confirmation = reservation.confirmation
            confirmation = f"{confirmation:d}" if booking.bug_at == service else confirmation  # BUG
        except Exception as error:
            log.info("book_%s attempt %d for %s: %s", service, info.attempt, workflow_id, error)
            raise
        log.info(
            "book_%s attempt %d for %s: booked %s", service, info.attempt, workflow_id, confirmation
        )
        return confirmation

    async def _undo(self, service: Service, booking: BookingInput) -> str:
        """Cancel the reservation if there is one; say what was done either way."""
        info = activity.info()
        workflow_id = _booking_workflow_id(info)
        try:
            if info.attempt <= booking.compensation_failures:
                raise ServiceUnavailable(f"{service} service unavailable while undoing")
            await heartbeating(asyncio.sleep(self.settings.service_latency_seconds))
            cancelled = await asyncio.to_thread(self.services.cancel, workflow_id, service)
        except Exception as error:
            log.info(
                "undo_book_%s attempt %d for %s: %s", service, info.attempt, workflow_id, error
            )
            raise
        if cancelled is None:
            outcome = f"nothing to undo: no {service} was booked"
        else:
            outcome = f"cancelled {service} {cancelled.confirmation}"
        log.info("undo_book_%s attempt %d for %s: %s", service, info.attempt, workflow_id, outcome)
        return outcome
