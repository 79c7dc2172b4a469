"""BookingWorkflow as it would be without the summaries of its service calls (the "Book car:
..." lines of the Temporal UI), for `benchmarks/workflow_cpu.py` to tell what they cost."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import HEARTBEAT_TIMEOUT
    from book_workflow import (
        BOOK,
        BOOKING_RETRY_POLICY,
        BUG_FIX_WINDOW,
        BUG_RETRY_POLICY,
        SERVICE_CALL_TIMEOUT,
        BookingWorkflow,
    )
    from shared import WORKFLOW_TYPE, BookingInput, BookingResult, Service


@workflow.defn(name=WORKFLOW_TYPE)
class BookingWithoutActivitySummaries(BookingWorkflow):
    """The booking's workflow with one difference: its service calls carry no summary (its
    `_book` is `book_workflow.py`'s without that one argument)."""

    @workflow.run
    async def run(self, booking: BookingInput) -> BookingResult:
        return await super().run(booking)

    async def _book(self, service: Service, booking: BookingInput) -> None:
        has_bug = booking.bug_at == service
        with self._status.booking(service) as step:
            workflow.set_current_details(f"Booking {service}: {step.item}")
            step.confirmation = await workflow.execute_activity_method(
                BOOK[service],
                booking,
                start_to_close_timeout=SERVICE_CALL_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                schedule_to_close_timeout=BUG_FIX_WINDOW if has_bug else None,
                retry_policy=BUG_RETRY_POLICY if has_bug else BOOKING_RETRY_POLICY,
            )
