"""The live page's data: the workflow's `status` query, told with the server's retry details.

The query says what the saga is doing (booking the hotel); the server's description of the
run adds what the workflow cannot know while Temporal retries an activity for it: the
attempt number and the last error. Both are combined here into one JSON-ready dict that the
page's script and its first server-side render share.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from book_workflow import BookingWorkflow
from shared import SERVICES, BookingInput, BookingStatus, StepStatus, booking_item
from temporal_connection import worker_is_polling
from web_gateway import RPC_TIMEOUT

START_WORKER = "python3 run_worker.py"

STATE_LABELS = {
    "unknown": "No answer",
    "waiting": "Waiting",
    "skipped": "Not attempted",
    "booking": "Booking…",
    "retrying": "Retrying",
    "booked": "Booked",
    "failed": "Failed",
    "compensating": "Undoing…",
    "undone": "Undone",
}


@dataclass(frozen=True)
class PendingActivity:
    """An activity the server is running or about to retry, as `describe()` reports it."""

    activity_type: str
    attempt: int
    last_error: str | None


class WorkflowNotFound(LookupError):
    pass


def temporal_ui_link(ui_base_url: str, namespace: str, workflow_id: str) -> str:
    """This run's page in the Temporal UI."""
    return (
        f"{ui_base_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}"
        f"/workflows/{quote(workflow_id, safe='')}"
    )


def live_view(
    workflow_id: str,
    run_status: str,
    status: BookingStatus,
    pending: list[PendingActivity],
    *,
    answered: bool = True,
    worker_polling: bool | None = True,
    task_queue: str = "",
    query_problem: str | None = None,
    summary: str | None = None,
) -> dict[str, Any]:
    """Everything the live page shows, as plain JSON values. Unless `answered`, `status` only
    names the items (the worker could not be asked) and each step's state is "unknown"."""
    running = run_status == "running"
    notice = None
    if running and worker_polling is False:
        notice = (
            f"No worker is polling the task queue “{task_queue}”, so nothing moves. "
            f"Start one in a terminal: {START_WORKER}"
        )
    elif query_problem is not None:
        notice = f"{query_problem} Is it running? Start one in a terminal: {START_WORKER}"
    steps = [_step(step, pending, answered, status.error is not None) for step in status.steps]
    return {
        "workflow_id": workflow_id,
        "summary": summary,
        "run_status": run_status,
        "finished": not running,
        "answered": answered,
        "steps": steps,
        "compensations": list(status.compensations),
        "undo_order": [name.removeprefix("undo_book_") for name in status.compensations],
        "outcome": status.outcome,
        "error": status.error,
        # Why it rolled back, unless the failed step already says it.
        "why": None if any(step["last_error"] == status.error for step in steps) else status.error,
        "headline": _headline(run_status, status),
        "tone": _tone(running, status),
        "worker_polling": worker_polling,
        "notice": notice,
    }


def _step(
    step: StepStatus, pending: list[PendingActivity], answered: bool, saga_failed: bool
) -> dict[str, Any]:
    state: str = step.state if answered else "unknown"
    if state == "waiting" and saga_failed:
        state = "skipped"  # an earlier booking failed: this one will never be tried
    label = STATE_LABELS[state]
    activity = next(
        (
            activity
            for activity in pending
            if activity.activity_type in (f"book_{step.service}", f"undo_book_{step.service}")
        ),
        None,
    )
    attempt = activity.attempt if activity is not None else None
    last_error = step.last_error
    if activity is not None and activity.attempt > 1:
        last_error = activity.last_error
        if state == "booking":
            state, label = "retrying", f"Retrying: attempt {activity.attempt}"
    if state == "undone" and step.confirmation is None:
        # The step that failed: the audience must still see which one it was.
        state, label = "failed", "Failed, undone"
    return {
        "service": step.service,
        "item": step.item,
        "state": state,
        "label": label,
        "confirmation": step.confirmation,
        "attempt": attempt,
        "last_error": last_error,
        "detail": _detail(state, step.confirmation, attempt, last_error),
    }


def _detail(
    state: str, confirmation: str | None, attempt: int | None, last_error: str | None
) -> str:
    """The one line under a step that says what is going on with it."""
    retried = attempt is not None and attempt > 1
    if state == "retrying":
        return f"Last error: {last_error}"
    if state == "booked":
        return f"Confirmation {confirmation}"
    if state == "failed":
        return f"Error: {last_error}"
    if state == "compensating" and retried:
        return f"Undo attempt {attempt}, retried by Temporal. Last error: {last_error}"
    if state == "undone":
        return f"Reservation {confirmation} cancelled"
    return ""


def _tone(running: bool, status: BookingStatus) -> str:
    """The headline's colour: booked, rolled_back, cancelled, rolling_back, running, failed."""
    if status.outcome is not None:
        return status.outcome
    if not running:
        return "failed"
    return "rolling_back" if status.error is not None else "running"


def _headline(run_status: str, status: BookingStatus) -> str:
    if status.outcome == "booked":
        return "Booked: car, hotel and flight"
    if status.outcome == "rolled_back":
        return "Rolled back: nothing is booked"
    if status.outcome == "cancelled":
        return "Cancelled: everything booked was undone"
    if run_status == "running":
        return "Rolling back…" if status.error is not None else "Booking in progress…"
    return f"The workflow ended: {run_status.replace('_', ' ')}"


async def fetch_live_view(client: Client, workflow_id: str, task_queue: str) -> dict[str, Any]:
    """Ask the server about the run and the worker about the saga; raise `WorkflowNotFound`.

    The three questions go out at once; the query is dropped as soon as the server says that
    no worker polls (it could only wait for its timeout)."""
    handle = client.get_workflow_handle(workflow_id)
    remembered = _finished_views.get(workflow_id)
    if remembered is not None:
        run_id, view = remembered
        if (await _describe(handle)).run_id == run_id:
            return view
    query = asyncio.ensure_future(_query_status(handle))
    try:
        description, polling = await asyncio.gather(
            _describe(handle), _worker_polling(client, task_queue), return_exceptions=True
        )
        if isinstance(description, BaseException):
            raise description
        if isinstance(polling, BaseException):
            raise polling
        status, query_problem = (None, None) if polling is False else await query
    finally:
        query.cancel()
    view = live_view(
        workflow_id,
        _run_status(description),
        status or await _items_only(client, workflow_id),
        _pending_activities(description),
        answered=status is not None,
        worker_polling=polling,
        task_queue=task_queue,
        query_problem=query_problem,
        summary=await description.static_summary(),
    )
    if view["finished"] and view["answered"]:
        _remember_finished(workflow_id, description.run_id, view)
    return view


# A finished run never changes, and asking a worker about one replays its whole history:
# its last view is kept instead, checked against the run id of the workflow id's latest
# run. Only the client's loop thread touches this.
_finished_views: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
FINISHED_VIEWS_KEPT = 1000


def _remember_finished(workflow_id: str, run_id: str, view: dict[str, Any]) -> None:
    _finished_views[workflow_id] = (run_id, view)
    while len(_finished_views) > FINISHED_VIEWS_KEPT:
        _finished_views.popitem(last=False)


async def _describe(handle: WorkflowHandle[Any, Any]) -> WorkflowExecutionDescription:
    try:
        return await handle.describe(rpc_timeout=RPC_TIMEOUT)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise WorkflowNotFound(handle.id) from error
        raise


async def _query_status(
    handle: WorkflowHandle[Any, Any],
) -> tuple[BookingStatus | None, str | None]:
    """The saga's status from the worker, or why there is none."""
    try:
        return await handle.query(BookingWorkflow.status, rpc_timeout=RPC_TIMEOUT), None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None, None  # describe says so too, and that is what the view reports
        # Whether the server itself answers is for describe(), asked at the same time, to
        # tell; a query that fails alone means the worker did not answer it.
        seconds = RPC_TIMEOUT.total_seconds()
        return None, f"No worker answered the status query within {seconds:g} seconds."
    except WorkflowQueryFailedError as error:
        return None, f"The worker could not answer the status query ({error.message})."


async def _items_only(client: Client, workflow_id: str) -> BookingStatus:
    """The steps named from the workflow's input, read from its first history event."""
    events = client.get_workflow_handle(workflow_id).fetch_history_events(
        page_size=1, rpc_timeout=RPC_TIMEOUT
    )
    async for event in events:
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        [booking] = await client.data_converter.decode(list(payloads), [BookingInput])
        assert isinstance(booking, BookingInput)
        return BookingStatus(
            steps=[StepStatus(service, booking_item(booking, service)) for service in SERVICES]
        )
    raise WorkflowNotFound(workflow_id)


async def _worker_polling(client: Client, task_queue: str) -> bool | None:
    """None when the server cannot tell (the time-skipping test server cannot)."""
    try:
        return await worker_is_polling(client, task_queue, rpc_timeout=RPC_TIMEOUT)
    except RPCError as error:
        if error.status == RPCStatusCode.UNIMPLEMENTED:
            return None
        raise


def _run_status(description: WorkflowExecutionDescription) -> str:
    status = description.status or WorkflowExecutionStatus.RUNNING
    return status.name.lower()


def _pending_activities(description: WorkflowExecutionDescription) -> list[PendingActivity]:
    return [
        PendingActivity(
            activity_type=pending.activity_type.name,
            attempt=pending.attempt,
            last_error=pending.last_failure.message or None,
        )
        for pending in description.raw_description.pending_activities
    ]
