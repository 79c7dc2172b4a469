"""The activities against the real SQLite ledger, run in Temporal's ActivityEnvironment."""

from __future__ import annotations

import logging
import traceback
from dataclasses import replace
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.testing import ActivityEnvironment

import activities
from activities import BookingActivities, BookingRejected, ServiceUnavailable
from simulated_services import BookingServices
from tests.test_booking_workflow import TRIP


def environment(attempt: int = 1, workflow_id: str = "booking-ada-1") -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = replace(env.info, attempt=attempt, workflow_id=workflow_id)
    return env


async def test_a_booking_run_twice_books_once(
    booking_activities: BookingActivities, ledger: BookingServices
) -> None:
    first = await environment().run(booking_activities.book_car, TRIP)
    again = await environment(attempt=2).run(booking_activities.book_car, TRIP)

    assert first == again
    assert [(r.service, r.confirmation, r.state) for r in ledger.reservations()] == [
        ("car", first, "booked")
    ]


async def test_bookings_of_two_workflows_are_kept_apart(
    booking_activities: BookingActivities, ledger: BookingServices
) -> None:
    one = await environment(workflow_id="w1").run(booking_activities.book_hotel, TRIP)
    two = await environment(workflow_id="w2").run(booking_activities.book_hotel, TRIP)
    assert one != two
    assert len(ledger.reservations()) == 2


async def test_undo_of_a_booking_that_never_happened_is_a_harmless_no_op(
    booking_activities: BookingActivities, ledger: BookingServices
) -> None:
    said = await environment().run(booking_activities.undo_book_flight, TRIP)
    assert said == "nothing to undo: no flight was booked"
    assert ledger.booked("booking-ada-1") == {}


async def test_undo_cancels_the_reservation(
    booking_activities: BookingActivities, ledger: BookingServices
) -> None:
    confirmation = await environment().run(booking_activities.book_flight, TRIP)
    said = await environment().run(booking_activities.undo_book_flight, TRIP)
    assert said == f"cancelled flight {confirmation}"
    assert ledger.booked("booking-ada-1") == {}


async def test_a_booking_that_arrives_after_its_undo_is_refused(
    booking_activities: BookingActivities, ledger: BookingServices
) -> None:
    # A booking that timed out in the workflow may still reach the service after the undo.
    await environment().run(booking_activities.undo_book_car, TRIP)
    with pytest.raises(Exception, match="already undone") as error:
        await environment().run(booking_activities.book_car, TRIP)
    assert type(error.value).__name__ == "ReservationCancelled"
    assert ledger.booked("booking-ada-1") == {}


async def test_failures_before_success_fail_the_first_attempts_only(
    booking_activities: BookingActivities, ledger: BookingServices
) -> None:
    booking = replace(TRIP, failures_before_success=2)
    for attempt in (1, 2):
        with pytest.raises(ServiceUnavailable, match="car service unavailable"):
            await environment(attempt=attempt).run(booking_activities.book_car, booking)
    assert ledger.reservations() == []
    await environment(attempt=3).run(booking_activities.book_car, booking)
    assert set(ledger.booked("booking-ada-1")) == {"car"}


async def test_the_chosen_booking_is_rejected_after_its_failures(
    booking_activities: BookingActivities, ledger: BookingServices
) -> None:
    booking = replace(TRIP, failures_before_success=1, fail_at="hotel")
    with pytest.raises(ServiceUnavailable):
        await environment(attempt=1).run(booking_activities.book_hotel, booking)
    with pytest.raises(BookingRejected, match="hotel booking rejected: no Hotel Adlon available"):
        await environment(attempt=2).run(booking_activities.book_hotel, booking)
    assert ledger.reservations() == []


def bug_lines() -> list[int]:
    """The numbers of the lines of activities.py that carry the marker `# BUG`."""
    source = Path(activities.__file__).read_text().splitlines()
    return [number for number, line in enumerate(source, start=1) if "# BUG" in line]


async def test_the_booking_with_a_bug_fails_on_the_marked_line_on_every_attempt(
    booking_activities: BookingActivities, ledger: BookingServices
) -> None:
    booking = replace(TRIP, bug_at="hotel")
    failures = []
    for attempt in (1, 2, 3):
        with pytest.raises(ValueError, match="Unknown format code") as error:
            await environment(attempt=attempt).run(booking_activities.book_hotel, booking)
        failures.append(error.value)

    # A real Python error from our own code, not an injected Temporal failure...
    assert not any(isinstance(failure, ApplicationError) for failure in failures)
    # ...raised by the one marked line.
    assert len(bug_lines()) == 1
    innermost = traceback.extract_tb(failures[0].__traceback__)[-1]
    assert (Path(innermost.filename), innermost.lineno) == (
        Path(activities.__file__),
        bug_lines()[0],
    )
    # The service took the hotel on the first attempt, and no attempt booked it again.
    assert [(row.service, row.state) for row in ledger.reservations()] == [("hotel", "booked")]
    # The other bookings of the same trip have no bug.
    await environment().run(booking_activities.book_car, booking)


async def test_each_attempt_logs_one_line_for_the_worker_terminal(
    booking_activities: BookingActivities, caplog: pytest.LogCaptureFixture
) -> None:
    booking = replace(TRIP, failures_before_success=1)
    caplog.set_level(logging.INFO, logger="booking.activities")
    with pytest.raises(ServiceUnavailable):
        await environment(attempt=1).run(booking_activities.book_car, booking)
    confirmation = await environment(attempt=2).run(booking_activities.book_car, booking)
    with pytest.raises(ServiceUnavailable):
        await environment(attempt=1).run(
            booking_activities.undo_book_car, replace(TRIP, compensation_failures=1)
        )
    await environment(attempt=2).run(booking_activities.undo_book_car, booking)

    assert [record.getMessage() for record in caplog.records] == [
        "book_car attempt 1 for booking-ada-1: ServiceUnavailable: car service unavailable",
        f"book_car attempt 2 for booking-ada-1: booked {confirmation}",
        "undo_book_car attempt 1 for booking-ada-1: "
        "ServiceUnavailable: car service unavailable while undoing",
        f"undo_book_car attempt 2 for booking-ada-1: cancelled car {confirmation}",
    ]


async def test_a_booking_outside_a_workflow_is_rejected(
    booking_activities: BookingActivities, ledger: BookingServices
) -> None:
    outside = ActivityEnvironment()
    outside.info = replace(outside.info, workflow_id=None)
    with pytest.raises(BookingRejected) as error:
        await outside.run(booking_activities.book_car, TRIP)
    assert error.value.message == "a booking activity must run inside a booking workflow"
    assert ledger.reservations() == []


def test_injected_failures_are_benign_and_typed_by_their_class() -> None:
    for failure in (ServiceUnavailable("x"), BookingRejected("x")):
        assert failure.category is ApplicationErrorCategory.BENIGN
        assert failure.type == type(failure).__name__
