"""The bookings: the list of recent ones, each one's live page, and the JSON it polls."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, abort, current_app, jsonify, render_template
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from runtime.connection import TemporalUnavailable
from shared import BOOKING_OUTCOME, WORKFLOW_TYPE
from web_form.gateway import RPC_TIMEOUT, TemporalGateway
from web_form.live_view import LiveViews, WorkflowNotFound, execution_name, temporal_ui_link

bookings = Blueprint("bookings", __name__)


def live_views() -> LiveViews:
    views: LiveViews = current_app.extensions["live_views"]
    return views


def not_found(workflow_id: str) -> str:
    return f"There is no booking with the workflow id “{workflow_id}”."


@bookings.get("/bookings/<workflow_id>")
def booking_page(workflow_id: str) -> str:
    views = live_views()
    try:
        view = views.view(workflow_id)
    except WorkflowNotFound:
        abort(404, not_found(workflow_id))
    return render_template(
        "booking.html",
        view=view,
        temporal_ui_link=temporal_ui_link(
            current_app.config["TEMPORAL_UI_URL"], views.gateway.namespace, workflow_id
        ),
    )


@bookings.get("/bookings/<workflow_id>/status")
def live_view_json(workflow_id: str) -> tuple[Response, int]:
    """What the live page polls: its `LiveView` as JSON."""
    try:
        view = live_views().view(workflow_id)
    except WorkflowNotFound:
        return jsonify(error=not_found(workflow_id)), 404
    except TemporalUnavailable as unavailable:
        return jsonify(error=str(unavailable)), 503
    response = jsonify(view.as_json())
    response.headers["Cache-Control"] = "no-store"
    return response, 200


@dataclass(frozen=True)
class BookingRow:
    """One booking in the list of recent ones."""

    workflow_id: str
    execution: str
    outcome: str | None
    """`BookingOutcome` as the workflow recorded it; None where the server lacks it."""
    started: str


@bookings.get("/bookings")
def booking_list() -> str:
    gateway: TemporalGateway = current_app.extensions["temporal_gateway"]
    task_queue = str(current_app.config["BOOKING_TASK_QUEUE"])
    recent: list[BookingRow] = []
    problem = None
    try:
        recent = gateway.call(lambda client: recent_bookings(client, task_queue))
    except RPCError as error:
        if error.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        problem = "This Temporal server keeps no list of workflows; use the Temporal UI."
    return render_template("bookings.html", bookings=recent, problem=problem)


async def recent_bookings(client: Client, task_queue: str, limit: int = 50) -> list[BookingRow]:
    """The newest bookings on this app's task queue, from Temporal's visibility store."""
    query = f"WorkflowType = '{WORKFLOW_TYPE}' AND TaskQueue = '{_quoted(task_queue)}'"
    found = [
        execution
        async for execution in client.list_workflows(query, limit=limit, rpc_timeout=RPC_TIMEOUT)
    ]
    found.sort(key=lambda execution: execution.start_time, reverse=True)
    return [
        BookingRow(
            workflow_id=execution.id,
            execution=execution_name(execution.status),
            outcome=execution.typed_search_attributes.get(BOOKING_OUTCOME),
            started=execution.start_time.strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
        for execution in found
    ]


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")
