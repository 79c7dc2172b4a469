"""The web form's application: its settings, pages, security and one Temporal client.

`run_workflow.py` creates it with the function that starts a booking's workflow.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from runtime import PROJECT_DIR
from runtime.connection import TemporalUnavailable, connect_config
from runtime.search_attributes import OutcomeAttribute
from shared import TASK_QUEUE
from web_form import security
from web_form.bookings import bookings
from web_form.errors import register_error_pages
from web_form.form import BookingStarter, form
from web_form.gateway import CALL_TIMEOUT_SECONDS, TemporalGateway
from web_form.live_view import LiveViews

log = logging.getLogger("booking.web")

DEFAULT_TEMPORAL_UI = "http://localhost:8080"


def create_app(start_booking: BookingStarter, config: Mapping[str, Any] | None = None) -> Flask:
    """The application factory. `config` overrides the defaults below; the tests pass their
    own task queue and Temporal address (TEMPORAL_CONNECT_CONFIG)."""
    app = Flask(
        __name__,
        template_folder=PROJECT_DIR / "templates",
        static_folder=PROJECT_DIR / "static",
    )
    app.config.update(
        SECRET_KEY=security.secret_key(),
        MAX_CONTENT_LENGTH=security.MAX_CONTENT_LENGTH,
        MAX_FORM_PARTS=security.MAX_FORM_PARTS,
        SESSION_COOKIE_SAMESITE="Lax",
        # A form may stay open on stage for hours; the session still ties it to this browser.
        WTF_CSRF_TIME_LIMIT=None,
        BOOKING_TASK_QUEUE=TASK_QUEUE,
        TEMPORAL_UI_URL=os.environ.get("TEMPORAL_UI_URL", DEFAULT_TEMPORAL_UI),
        TEMPORAL_CALL_TIMEOUT_SECONDS=CALL_TIMEOUT_SECONDS,
        TEMPORAL_CONNECT_EAGERLY=True,
    )
    app.config.update(config or {})
    if "TEMPORAL_CONNECT_CONFIG" not in app.config:
        app.config["TEMPORAL_CONNECT_CONFIG"] = connect_config()

    gateway = TemporalGateway(
        app.config["TEMPORAL_CONNECT_CONFIG"], app.config["TEMPORAL_CALL_TIMEOUT_SECONDS"]
    )
    app.extensions["temporal_gateway"] = gateway
    app.extensions["live_views"] = LiveViews(gateway, app.config["BOOKING_TASK_QUEUE"])
    app.extensions["booking_starter"] = start_booking
    app.extensions["outcome_attribute"] = OutcomeAttribute()
    if app.config["TEMPORAL_CONNECT_EAGERLY"]:
        try:
            gateway.connect()
        except TemporalUnavailable as unavailable:
            # The form still opens; each submit tries again and says what is wrong.
            log.warning("%s", unavailable)

    CSRFProtect(app)
    app.register_blueprint(form)
    app.register_blueprint(bookings)
    app.after_request(security.add_security_headers)
    register_error_pages(app)
    return app


def close_app(app: Flask) -> None:
    """Close the app's Temporal client (its loop thread); the app serves no more requests."""
    gateway: TemporalGateway = app.extensions["temporal_gateway"]
    gateway.close()
