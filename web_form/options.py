"""The web form's command line, and serving the app with waitress until Ctrl-C.

Waitress, a production WSGI server in pure Python, prints no line per request and no
"development server" warning: the terminal the presenter shows keeps the worker's attempt
lines and the form's one line per booking.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

from flask import Flask, Response, request
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from runtime.connection import TemporalUnavailable
from runtime.environment import from_environment, refusal
from runtime.process import configure_logging
from web_form import DEFAULT_TEMPORAL_UI, close_app
from web_form.gateway import TemporalGateway

log = logging.getLogger("booking.web")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
LOOPBACK = ("127.0.0.1", "localhost", "::1")

# A room of open live pages, each polling every 0.4 s. A request mostly waits for Temporal
# (at most 3.5 s when the server is frozen), not for the CPU: the threads are places to wait.
SERVER_THREADS = 64
"""Requests served at the same time (50 polls or bookings at once each get one); more wait in
a queue for a free thread."""
CONNECTION_LIMIT = 1000
"""Open connections: a browser keeps a few per page (waitress's default, 100, is a dozen
pages; past it waitress stops accepting and says so)."""
IDLE_CONNECTION_SECONDS = 30
"""A connection with no request for this long is closed (a page polls every 0.4 s, so only
closed pages' connections are; waitress's default keeps them 120 s)."""


def parse_args(argv: list[str] | None = None, description: str | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    settings: list[tuple[str, str, str, Callable[[str], object], str]] = [
        ("--host", "BOOKING_WEB_HOST", DEFAULT_HOST, str, "address to listen on (this machine)"),
        ("--port", "BOOKING_WEB_PORT", str(DEFAULT_PORT), _port, "port to listen on"),
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
            default=from_environment(variable, default),
            help=f"{what} (env {variable}; default {default})",
        )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="for working on the form: Flask's debug mode (templates are re-read when "
        "edited) and one log line per request",
    )
    return parser.parse_args(argv)


def _port(text: str) -> int:
    if not text.strip().isdigit() or not 0 <= int(text) <= 65535:
        raise refusal(text, "must be a port number from 0 to 65535")
    return int(text)


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
    try:
        server = make_server(app, args.host, args.port)
    except OSError as error:
        print(f"Cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        close_app(app)
        return 1
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
    if args.debug:
        app.debug = True
        app.after_request(_log_request)
        log.info("Debug mode: templates are re-read when edited; one line per request")
    # SIGTERM stops the form as Ctrl-C does; where there is none (Windows), Ctrl-C still does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        # Returns on KeyboardInterrupt, once the requests in progress have had 5 s to finish.
        server.run()
    except KeyboardInterrupt:
        pass  # one that came before the server's loop ran
    finally:
        server.close()
        close_app(app)
    log.info("Booking form stopped")
    return 0


SocketMap = dict[int, Any]
"""waitress's sockets (its dispatchers), by file descriptor: what its loop watches."""


def make_server(
    app: Flask, host: str, port: int, socket_map: SocketMap | None = None
) -> MultiSocketServer | BaseWSGIServer:
    """`app` served by waitress on `host`:`port`, not yet running; raise OSError if the port
    is taken. Its `run()` serves until KeyboardInterrupt, `close()` frees the port. Given a
    `socket_map`, the server's sockets go there, for a caller that runs waitress's loop on it
    (`waitress.wasyncore.loop`) instead of `run()`."""
    # A burst of polls waiting a moment for a thread is normal here, not worth a line on
    # stage; nor is a browser that closed a page while its poll was answered.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    logging.getLogger("waitress").setLevel(logging.WARNING)
    return create_server(
        app,
        map=socket_map,
        host=host,
        port=port,
        threads=SERVER_THREADS,
        connection_limit=CONNECTION_LIMIT,
        channel_timeout=IDLE_CONNECTION_SECONDS,
        cleanup_interval=IDLE_CONNECTION_SECONDS // 3,
        ident="booking-form",
    )


def _log_request(response: Response) -> Response:
    log.info("%s %s %s", request.method, request.full_path.rstrip("?"), response.status_code)
    return response


def _interrupt(signal_number: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
