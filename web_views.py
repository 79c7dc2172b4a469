"""The web form's pages: the booking form, starting a booking, its live page, the list."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
from dataclasses import asdict, fields
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from werkzeug.wrappers import Response as WerkzeugResponse

from book_workflow import BookingWorkflow
from shared import (
    FAIL_AT_CHOICES,
    MAX_COMPENSATION_FAILURES,
    MAX_FAILURES_BEFORE_SUCCESS,
    MAX_NETWORK_DELAY_SECONDS,
    MAX_TEXT_LENGTH,
    WORKFLOW_TYPE,
    BookingInput,
    InvalidBookingInput,
    booking_summary,
    new_workflow_id,
    parse_booking_input,
)
from web_gateway import RPC_TIMEOUT, TemporalGateway, TemporalUnavailable
from web_status import WorkflowNotFound, fetch_live_view, temporal_ui_link

bookings = Blueprint("bookings", __name__)

FORM_FIELDS = tuple(field.name for field in fields(BookingInput))
FORM_TOKEN = "form_token"
_FORM_TOKEN_PATTERN = re.compile(r"[0-9a-f]{32}")
_NOT_BOOKING_FIELDS = {FORM_TOKEN, "csrf_token"}

# What the form shows first: a trip to the conference, ready to submit.
FORM_DEFAULTS = {
    "name": "Ada Lovelace",
    "car": "Electric compact, airport pick-up",
    "hotel": "Hotel by the venue, 3 nights",
    "flight": "Round trip, economy",
    "failures_before_success": "0",
    "fail_at": "none",
    "network_delay_seconds": "3",
    "compensation_failures": "0",
}

FAIL_AT_LABELS = {
    "none": "No failure",
    "car": "Car Booking Failure",
    "hotel": "Hotel Booking Failure",
    "flight": "Flight Booking Failure",
}
assert tuple(FAIL_AT_LABELS) == FAIL_AT_CHOICES

LIMITS = {
    "text": MAX_TEXT_LENGTH,
    "failures": MAX_FAILURES_BEFORE_SUCCESS,
    "compensation_failures": MAX_COMPENSATION_FAILURES,
    "network_delay": MAX_NETWORK_DELAY_SECONDS,
}


def gateway() -> TemporalGateway:
    found: TemporalGateway = current_app.extensions["temporal_gateway"]
    return found


def task_queue() -> str:
    return str(current_app.config["BOOKING_TASK_QUEUE"])


def render_form(
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    token = values.get(FORM_TOKEN, "")
    if not _FORM_TOKEN_PATTERN.fullmatch(token):
        token = secrets.token_hex(16)
    return render_template(
        "form.html",
        values=values,
        errors=errors or {},
        problem=problem,
        form_token=token,
        fail_at_labels=FAIL_AT_LABELS,
        limits=LIMITS,
    ), status


def submitted_values() -> dict[str, str]:
    """The form as the user sent it, first value of each field: kept when it goes back."""
    return {key: value[:1000] for key, value in request.form.items()}


@bookings.get("/")
def booking_form() -> tuple[str, int]:
    return render_form(dict(FORM_DEFAULTS))


@bookings.post("/book")
def book() -> WerkzeugResponse | tuple[str, int]:
    values = submitted_values()
    for key in request.form:
        if len(request.form.getlist(key)) > 1:
            return render_form(values, {key: "was given more than once"}, status=400)
    token = request.form.get(FORM_TOKEN, "")
    if not _FORM_TOKEN_PATTERN.fullmatch(token):
        problem = "This form is out of date. Your input is kept: check it and submit again."
        return render_form(values, problem=problem, status=400)
    raw = {key: value for key, value in request.form.items() if key not in _NOT_BOOKING_FIELDS}
    try:
        booking = parse_booking_input(raw)
    except InvalidBookingInput as invalid:
        if invalid.field_name in FORM_FIELDS:
            return render_form(values, {invalid.field_name: invalid.reason}, status=400)
        return render_form(values, problem=str(invalid), status=400)
    workflow_id = new_workflow_id(booking.name, suffix=form_fingerprint(token, booking))
    queue = task_queue()
    try:
        gateway().call(lambda client: start_booking(client, workflow_id, booking, queue))
    except TemporalUnavailable as unavailable:
        return render_form(values, problem=str(unavailable), status=503)
    return redirect(url_for("bookings.booking_page", workflow_id=workflow_id), code=303)


def form_fingerprint(token: str, booking: BookingInput) -> str:
    """The same form with the same input gives the same id: a double submit finds the first
    run. Changed input (back, edit, submit) is a new booking with a new id."""
    content = token + json.dumps(asdict(booking), sort_keys=True)
    return hashlib.sha256(content.encode()).hexdigest()[:8]


async def start_booking(
    client: Client, workflow_id: str, booking: BookingInput, queue: str
) -> None:
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            BookingWorkflow.run,
            booking,
            id=workflow_id,
            task_queue=queue,
            static_summary=booking_summary(booking),
            # A second submit while the first runs joins it; after it has finished, the id
            # is refused and the second submit shows the first booking.
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            rpc_timeout=RPC_TIMEOUT,
        )


@bookings.get("/bookings/<workflow_id>")
def booking_page(workflow_id: str) -> str:
    queue = task_queue()
    try:
        view = gateway().call(lambda client: fetch_live_view(client, workflow_id, queue))
    except WorkflowNotFound:
        abort(404, f"There is no booking with the workflow id “{workflow_id}”.")
    return render_template(
        "booking.html",
        view=view,
        temporal_ui_link=temporal_ui_link(
            current_app.config["TEMPORAL_UI_URL"], gateway().namespace, workflow_id
        ),
    )


@bookings.get("/bookings/<workflow_id>/status")
def booking_status(workflow_id: str) -> tuple[Response, int]:
    queue = task_queue()
    try:
        view = gateway().call(lambda client: fetch_live_view(client, workflow_id, queue))
    except WorkflowNotFound:
        return jsonify(error=f"There is no booking with the workflow id “{workflow_id}”."), 404
    except TemporalUnavailable as unavailable:
        return jsonify(error=str(unavailable)), 503
    response = jsonify(view)
    response.headers["Cache-Control"] = "no-store"
    return response, 200


@bookings.get("/bookings")
def booking_list() -> str:
    queue = task_queue()
    recent: list[dict[str, Any]] = []
    problem = None
    try:
        recent = gateway().call(lambda client: recent_bookings(client, queue))
    except RPCError as error:
        if error.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        problem = "This Temporal server keeps no list of workflows; use the Temporal UI."
    return render_template("bookings.html", bookings=recent, problem=problem)


async def recent_bookings(client: Client, queue: str, limit: int = 50) -> list[dict[str, Any]]:
    """The newest bookings on this app's task queue, from Temporal's visibility store."""
    query = f"WorkflowType = '{WORKFLOW_TYPE}' AND TaskQueue = '{_quoted(queue)}'"
    found = [
        execution
        async for execution in client.list_workflows(query, limit=limit, rpc_timeout=RPC_TIMEOUT)
    ]
    found.sort(key=lambda execution: execution.start_time, reverse=True)
    return [
        {
            "workflow_id": execution.id,
            "status": (execution.status or WorkflowExecutionStatus.RUNNING).name.lower(),
            "started": execution.start_time.strftime("%Y-%m-%d %H:%M:%S UTC"),
        }
        for execution in found
    ]


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")
