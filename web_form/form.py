"""The booking form: GET / shows it, POST /book checks it and starts the booking's workflow.

How the workflow is started is `run_workflow.py`'s to show: the app calls the `BookingStarter`
it was created with.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict, fields

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from temporalio.client import Client
from temporalio.common import TypedSearchAttributes
from werkzeug.wrappers import Response

from runtime.connection import TemporalUnavailable
from runtime.search_attributes import OutcomeAttribute
from shared import (
    FAIL_AT_CHOICES,
    MAX_COMPENSATION_FAILURES,
    MAX_FAILURES_BEFORE_SUCCESS,
    MAX_NETWORK_DELAY_SECONDS,
    MAX_TEXT_LENGTH,
    BookingInput,
    InvalidBookingInput,
    new_workflow_id,
    parse_booking_input,
    what_is_broken,
)
from web_form.gateway import TemporalGateway

log = logging.getLogger("booking.web")

BookingStarter = Callable[[Client, BookingInput, str, str, TypedSearchAttributes], Awaitable[None]]
"""Starts the workflow of one booking: (client, booking, workflow id, task queue, the search
attributes it starts with)."""

form = Blueprint("form", __name__)

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
    "bug_at": "none",
}

FAIL_AT_LABELS = {
    "none": "No failure",
    "car": "Car Booking Failure",
    "hotel": "Hotel Booking Failure",
    "flight": "Flight Booking Failure",
}
assert tuple(FAIL_AT_LABELS) == FAIL_AT_CHOICES

BUG_AT_LABELS = {"none": "No bug", "car": "Car", "hotel": "Hotel", "flight": "Flight"}
assert tuple(BUG_AT_LABELS) == FAIL_AT_CHOICES

LIMITS = {
    "text": MAX_TEXT_LENGTH,
    "failures": MAX_FAILURES_BEFORE_SUCCESS,
    "compensation_failures": MAX_COMPENSATION_FAILURES,
    "network_delay": MAX_NETWORK_DELAY_SECONDS,
}


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
        bug_at_labels=BUG_AT_LABELS,
        limits=LIMITS,
    ), status


def submitted_values() -> dict[str, str]:
    """The form as the user sent it, first value of each field: kept when it goes back."""
    return {key: value[:1000] for key, value in request.form.items()}


@form.get("/")
def booking_form() -> tuple[str, int]:
    return render_form(dict(FORM_DEFAULTS))


@form.post("/book")
def book() -> Response | tuple[str, int]:
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
    start: BookingStarter = current_app.extensions["booking_starter"]
    gateway: TemporalGateway = current_app.extensions["temporal_gateway"]
    outcome_attribute: OutcomeAttribute = current_app.extensions["outcome_attribute"]
    task_queue = str(current_app.config["BOOKING_TASK_QUEUE"])

    async def start_on(client: Client) -> None:
        search_attributes = await outcome_attribute.start_attributes(client)
        await start(client, booking, workflow_id, task_queue, search_attributes)

    try:
        gateway.call(start_on)
    except TemporalUnavailable as unavailable:
        return render_form(values, problem=str(unavailable), status=503)
    log.info("Booking %s for %s: %s", workflow_id, booking.name, what_is_broken(booking))
    return redirect(url_for("bookings.booking_page", workflow_id=workflow_id), code=303)


def form_fingerprint(token: str, booking: BookingInput) -> str:
    """The same form with the same input gives the same id: a double submit finds the first
    run. Changed input (back, edit, submit) is a new booking with a new id."""
    content = token + json.dumps(asdict(booking), sort_keys=True)
    return hashlib.sha256(content.encode()).hexdigest()[:8]
