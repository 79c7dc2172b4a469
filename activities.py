"""The booking activities: one call to a (simulated) booking service each.

There is no retry logic here, on purpose: an activity just raises, and Temporal retries it
according to the retry policy in `book_workflow.py`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from temporalio import activity

from booking_services import BookingServices, ReservationCancelled
from shared import BookingInput, Service, booking_item

log = logging.getLogger("booking.activities")


class ServiceUnavailable(Exception):
    """A passing failure (the service is down for a moment): Temporal retries it."""


class BookingRejected(Exception):
    """The service refuses the booking for good: the retry policy lists this type as
    non-retryable, so the workflow gets the failure at once and rolls back."""


# Both name failures that no retry can fix; the booking retry policy lists them.
NON_RETRYABLE_BOOKING_ERRORS = (BookingRejected.__name__, ReservationCancelled.__name__)


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
        """Return the confirmation number of the reservation."""
        info = activity.info()
        workflow_id = _booking_workflow_id(info)
        item = booking_item(booking, service)
        log.info("book_%s attempt %d: %s for %s", service, info.attempt, item, info.workflow_id)
        if info.attempt <= booking.failures_before_success:
            raise ServiceUnavailable(
                f"{service} service unavailable (attempt {info.attempt}); Temporal will retry"
            )
        await asyncio.sleep(self.settings.service_latency_seconds)
        if booking.fail_at == service:
            raise BookingRejected(f"{service} booking rejected: no {item} available")
        reservation = await asyncio.to_thread(
            self.services.reserve, workflow_id, service, item, booking.name
        )
        log.info("book_%s booked %s (%s)", service, reservation.confirmation, workflow_id)
        return reservation.confirmation

    async def _undo(self, service: Service, booking: BookingInput) -> str:
        """Cancel the reservation if there is one; say what was done either way."""
        info = activity.info()
        log.info("undo_book_%s attempt %d for %s", service, info.attempt, info.workflow_id)
        if info.attempt <= booking.compensation_failures:
            raise ServiceUnavailable(
                f"{service} service unavailable while undoing (attempt {info.attempt})"
            )
        await asyncio.sleep(self.settings.service_latency_seconds)
        cancelled = await asyncio.to_thread(
            self.services.cancel, _booking_workflow_id(info), service
        )
        if cancelled is None:
            outcome = f"nothing to undo: no {service} was booked"
        else:
            outcome = f"cancelled {service} {cancelled.confirmation}"
        log.info("undo_book_%s: %s (%s)", service, outcome, info.workflow_id)
        return outcome
