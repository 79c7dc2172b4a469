"""The web form: start bookings, watch each saga live, jump to its run in the Temporal UI.

python3 run_workflow.py [--host 127.0.0.1] [--port 8000] [--temporal-ui http://localhost:8080]
                        [--debug]

The Temporal connection comes from the same environment configuration as the worker
(TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key; see temporal_connection.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

import web_security
from shared import TASK_QUEUE
from temporal_connection import connect_config, exit_without_finalizing
from web_gateway import CALL_TIMEOUT_SECONDS, TemporalGateway, TemporalUnavailable
from web_views import bookings, render_form, submitted_values

log = logging.getLogger("booking.web")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_TEMPORAL_UI = "http://localhost:8080"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The application factory. `config` overrides the defaults below; the tests pass their
    own task queue and Temporal address (TEMPORAL_CONNECT_CONFIG)."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=web_security.secret_key(),
        MAX_CONTENT_LENGTH=web_security.MAX_CONTENT_LENGTH,
        MAX_FORM_PARTS=web_security.MAX_FORM_PARTS,
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
    if app.config["TEMPORAL_CONNECT_EAGERLY"]:
        try:
            gateway.connect()
        except TemporalUnavailable as unavailable:
            # The form still opens; each submit tries again and says what is wrong.
            log.warning("%s", unavailable)

    CSRFProtect(app)
    app.register_blueprint(bookings)
    app.after_request(web_security.add_security_headers)
    register_error_pages(app)
    return app


def register_error_pages(app: Flask) -> None:
    """Every error is a page with one clear sentence, never a stack trace."""

    @app.errorhandler(CSRFError)
    def form_expired(error: CSRFError) -> tuple[str, int]:
        problem = (
            "This form has expired (the web app restarted, or the page is from another "
            "session). Your input is kept: submit it again."
        )
        if request.endpoint == "bookings.book":
            return render_form(submitted_values(), problem=problem, status=400)
        return error_page(400, "Request refused", problem)

    @app.errorhandler(TemporalUnavailable)
    def temporal_unavailable(error: TemporalUnavailable) -> tuple[str, int]:
        return error_page(503, "Temporal is not answering", str(error))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        status = error.code or 500
        messages = {
            404: "There is no such page.",
            413: "The request is too large for a booking form.",
        }
        message = messages.get(status, error.description or "")
        if status == 404 and error.description and "workflow id" in error.description:
            message = error.description
        return error_page(status, error.name, message)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> tuple[str, int]:
        log.exception("Unexpected error on %s %s", request.method, request.path)
        return error_page(500, "Something went wrong", "The details are in the web app's log.")


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("error.html", status=status, title=title, message=message), status


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--host",
        default=os.environ.get("BOOKING_WEB_HOST", DEFAULT_HOST),
        help=f"address to listen on (env BOOKING_WEB_HOST; default {DEFAULT_HOST}, this machine)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("BOOKING_WEB_PORT", DEFAULT_PORT)),
        help=f"port to listen on (env BOOKING_WEB_PORT; default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--temporal-ui",
        default=os.environ.get("TEMPORAL_UI_URL", DEFAULT_TEMPORAL_UI),
        help=f"base URL of the Temporal UI (env TEMPORAL_UI_URL; default {DEFAULT_TEMPORAL_UI})",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="Flask's debug mode: never on a network others can reach (it can run code)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    app = create_app({"TEMPORAL_UI_URL": args.temporal_ui})
    gateway: TemporalGateway = app.extensions["temporal_gateway"]
    log.info(
        "Booking form on http://%s:%d/ (Temporal at %s, namespace %s; UI %s)",
        args.host,
        args.port,
        gateway.address,
        gateway.namespace,
        args.temporal_ui,
    )
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("Listening on %s: other machines can reach this form", args.host)
    try:
        # One reloader process only: a second would open a second Temporal client.
        app.run(host=args.host, port=args.port, debug=args.debug, use_reloader=False)
    except OSError as error:
        print(f"Cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    finally:
        gateway.close()
    return 0


if __name__ == "__main__":
    exit_without_finalizing(main())
