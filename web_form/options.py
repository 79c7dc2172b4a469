"""The web form's command line, and serving the app until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

from flask import Flask

from runtime.connection import TemporalUnavailable
from runtime.process import configure_logging
from web_form import DEFAULT_TEMPORAL_UI, close_app
from web_form.gateway import TemporalGateway

log = logging.getLogger("booking.web")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_args(argv: list[str] | None = None, description: str | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    settings: list[tuple[str, str, str, type, str]] = [
        ("--host", "BOOKING_WEB_HOST", DEFAULT_HOST, str, "address to listen on (this machine)"),
        ("--port", "BOOKING_WEB_PORT", str(DEFAULT_PORT), int, "port to listen on"),
        (
            "--temporal-ui",
            "TEMPORAL_UI_URL",
            DEFAULT_TEMPORAL_UI,
            str,
            "the Temporal UI to link to",
        ),
    ]
    for option, variable, default, kind, what in settings:
        parser.add_argument(
            option,
            type=kind,
            # A text default goes through `type` too, so a bad variable is refused clearly.
            default=os.environ.get(variable, default),
            help=f"{what} (env {variable}; default {default})",
        )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="Flask's debug mode: never on a network others can reach (it can run code)",
    )
    return parser.parse_args(argv)


def serve_until_stopped(
    create_app: Callable[[Mapping[str, Any]], Flask], description: str | None = None
) -> int:
    """The web form's whole command line: its options, its log, the app `create_app` makes,
    served until Ctrl-C or SIGTERM. The exit status: 0, or 1 if the port is taken or a
    connection setting cannot be used (a certificate file that is not there)."""
    args = parse_args(description=description)
    configure_logging()
    try:
        app = create_app({"TEMPORAL_UI_URL": args.temporal_ui})
    except TemporalUnavailable as unusable:  # a connection setting no retry can fix
        print(unusable, file=sys.stderr)
        return 1
    return serve(app, args)


def serve(app: Flask, args: argparse.Namespace) -> int:
    """Serve `app` until Ctrl-C or SIGTERM; the exit status: 0, or 1 if the port is taken."""
    gateway: TemporalGateway = app.extensions["temporal_gateway"]
    log.info(
        "Booking form on http://%s:%d/ (Temporal at %s, namespace %s; UI %s)",
        args.host,
        args.port,
        gateway.address,
        gateway.namespace,
        args.temporal_ui,
    )
    if args.host not in LOOPBACK:
        log.warning("Listening on %s: other machines can reach this form", args.host)
    # SIGTERM stops the form as Ctrl-C does; where there is none (Windows), Ctrl-C still does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        # One process only, no reloader: a second would open a second Temporal client.
        app.run(host=args.host, port=args.port, debug=args.debug, use_reloader=False)
    except OSError as error:
        print(f"Cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        close_app(app)
    log.info("Booking form stopped")
    return 0


def _interrupt(signal_number: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
