"""Read what happened from a workflow's event history, as the audience does in the Temporal UI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.worker import Replayer

from book_workflow import BookingWorkflow


@dataclass(frozen=True)
class ActivityRun:
    """One activity, as its scheduled, started and closing events tell it."""

    activity_type: str
    attempt: int
    """The attempt that closed it (ActivityTaskStarted carries the last attempt)."""
    outcome: str
    """completed, failed, timed_out, canceled, or running"""
    failure_type: str | None = None
    failure_message: str | None = None
    non_retryable: bool = False
    retried_after: str | None = None
    """Why the attempt before the last one failed ("activity Heartbeat timeout", ...)."""


_CLOSING = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "completed",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "failed",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "timed_out",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "canceled",
}


def activity_runs(history: WorkflowHistory) -> list[ActivityRun]:
    """The workflow's activities in the order they were scheduled."""
    scheduled = _scheduled_names(history)
    attempts: dict[int, int] = {}
    retried_after: dict[int, str] = {}
    closed: dict[int, ActivityRun] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            attempts[started.scheduled_event_id] = started.attempt
            if started.HasField("last_failure"):
                retried_after[started.scheduled_event_id] = started.last_failure.message
        elif event.event_type in _CLOSING:
            outcome = _CLOSING[event.event_type]
            attributes = getattr(event, str(event.WhichOneof("attributes")))
            scheduled_id: int = attributes.scheduled_event_id
            failure = event.activity_task_failed_event_attributes.failure
            closed[scheduled_id] = ActivityRun(
                activity_type=scheduled[scheduled_id],
                attempt=attempts.get(scheduled_id, 0),
                outcome=outcome,
                failure_type=failure.application_failure_info.type or None,
                failure_message=failure.message or None,
                non_retryable=failure.application_failure_info.non_retryable,
                retried_after=retried_after.get(scheduled_id),
            )
    return [
        closed.get(event_id, ActivityRun(name, attempts.get(event_id, 0), "running"))
        for event_id, name in scheduled.items()
    ]


def compensation_order(history: WorkflowHistory) -> list[str]:
    """The undo activities that completed, in the order they completed."""
    names = _scheduled_names(history)
    completed = [
        names[event.activity_task_completed_event_attributes.scheduled_event_id]
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    ]
    return [name for name in completed if name.startswith("undo_")]


def undos_scheduled_before_the_first_closed(history: WorkflowHistory) -> list[str]:
    """The undo activities that were scheduled before any undo completed or failed: all of
    them when the undos run at the same time, only the first when they run one by one."""
    names = _scheduled_names(history)
    scheduled: list[str] = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled.append(names[event.event_id])
        elif event.event_type in _CLOSING:
            attributes = getattr(event, str(event.WhichOneof("attributes")))
            if names[attributes.scheduled_event_id].startswith("undo_"):
                break
    return [name for name in scheduled if name.startswith("undo_")]


def _scheduled_names(history: WorkflowHistory) -> dict[int, str]:
    return {
        event.event_id: event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }


def sticky_queue_waits(history: WorkflowHistory) -> list[float]:
    """Seconds each workflow task waited on a worker's sticky queue before the server gave up
    on that worker and offered the task to any worker."""
    scheduled_at = {}
    waits = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            scheduled_at[event.event_id] = event.event_time.ToDatetime()
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
            timed_out = event.workflow_task_timed_out_event_attributes
            if timed_out.timeout_type == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START:
                waited = event.event_time.ToDatetime() - scheduled_at[timed_out.scheduled_event_id]
                waits.append(waited.total_seconds())
    return waits


def workflow_clock_seconds(history: WorkflowHistory) -> float:
    """How far the workflow's clock moved from its first event to its last."""
    first, last = history.events[0], history.events[-1]
    return (last.event_time.ToDatetime() - first.event_time.ToDatetime()).total_seconds()


async def assert_replays(handle: WorkflowHandle[Any, Any]) -> WorkflowHistory:
    """Replay the finished run through today's workflow code: it must be deterministic."""
    history = await handle.fetch_history()
    await Replayer(workflows=[BookingWorkflow]).replay_workflow(history)
    return history
