"""Helpers for the web form's tests: fill the form, read pages, ask the server."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any, TypeVar

from flask import Flask
from flask.testing import FlaskClient
from temporalio.client import Client
from waitress import wasyncore
from werkzeug.test import TestResponse

from launcher.ports import free_port
from launcher.processes import WebFormProcess
from shared import WORKFLOW_TYPE, BookingInput
from tests.sync_bridge import run_async
from tools.form_visitor import FormVisitor
from web_form.options import SocketMap, make_server

T = TypeVar("T")

TRIP = {
    "name": "Grace Hopper",
    "car": "Volvo EX30",
    "hotel": "Hotel Adlon",
    "flight": "LH 404",
    "failures_before_success": "0",
    "fail_at": "none",
    "network_delay_seconds": "0",
    "compensation_failures": "0",
}


def hidden_tokens(page: str) -> dict[str, str]:
    """The form's csrf_token and form_token, as a browser would send them back."""
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))


def fresh_form(http: FlaskClient) -> dict[str, str]:
    response = http.get("/")
    assert response.status_code == 200
    return hidden_tokens(response.get_data(as_text=True))


def submit(
    http: FlaskClient, fields: dict[str, Any], tokens: dict[str, str] | None = None
) -> TestResponse:
    """POST /book with the form's hidden tokens and `fields`."""
    form = {**(tokens if tokens is not None else fresh_form(http)), **fields}
    return http.post("/book", data=form)


def workflow_id_of(response: TestResponse) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    location = response.headers["Location"]
    match = re.fullmatch(r"/bookings/([^/]+)", location)
    assert match, location
    return match.group(1)


async def count_bookings(address: str, task_queue: str) -> int:
    client = await Client.connect(address)
    counted = await client.count_workflows(
        f"WorkflowType = '{WORKFLOW_TYPE}' AND TaskQueue = '{task_queue}'"
    )
    return counted.count


def settled_booking_count(address: str, task_queue: str, at_least: int) -> int:
    """The number of bookings on `task_queue` once visibility has caught up with `at_least`
    (visibility is updated a moment after a start), checked once more after a pause."""
    deadline = time.monotonic() + 10
    while True:
        counted = run_async(lambda: count_bookings(address, task_queue))
        if counted >= at_least or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    return run_async(lambda: count_bookings(address, task_queue))


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app on a free port, served by waitress as `run_workflow.py` serves it, in a thread
    that runs waitress's loop until the block ends and then closes the server itself."""
    sockets: SocketMap = {}
    port = free_port()
    server = make_server(app, "127.0.0.1", port, socket_map=sockets)
    stop = threading.Event()

    def serve() -> None:
        # Only this thread touches the sockets. Closed from another thread, a socket could
        # vanish under the loop's select(); asking the loop to close them through waitress's
        # trigger once found the trigger itself already closed (a CI run, not reproduced).
        try:
            while not stop.is_set():
                wasyncore.loop(timeout=0.05, map=sockets, count=1)
        finally:
            wasyncore.close_all(sockets)

    thread = threading.Thread(target=serve, name="serving", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        # While the loop still runs: the requests in progress get 5 s to finish.
        server.task_dispatcher.shutdown()
        stop.set()
        thread.join(5)
        app.extensions["temporal_gateway"].close()
        if thread.is_alive():
            raise RuntimeError("the served app did not close within 5 s")


@contextmanager
def running_form(form: WebFormProcess) -> Iterator[WebFormProcess]:
    """`form` (`run_workflow.py`) started and answering; stopped when the block ends."""
    form.start()
    try:
        run_async(form.wait_until_ready)
        yield form
    finally:
        form.stop()


POLLS_IN_A_MINUTE = 150
"""An open live page polls its status every 0.4 s."""


TRAVELLER = BookingInput(
    "Grace Hopper", "Volvo EX30", "Hotel Adlon", "LH 404", network_delay_seconds=0
)


def book_and_watch(
    base_url: str, booking: BookingInput = TRAVELLER, polls: int = POLLS_IN_A_MINUTE
) -> str:
    """What a presenter's browser does: book `booking`, open its live page with the page's
    assets, then poll its status `polls` times; the booking's workflow id."""
    browser = FormVisitor(base_url)
    workflow_id = browser.book(booking)
    for path in (f"/bookings/{workflow_id}", "/static/booking.js", "/static/style.css"):
        assert browser.fetch(path)[0] == 200, path
    for _ in range(polls):
        poll(browser, workflow_id)
    return workflow_id


def poll(browser: FormVisitor, workflow_id: str) -> dict[str, Any]:
    """One poll of the booking's live view, as its page's script asks: the view."""
    status, body, _ = browser.fetch(f"/bookings/{workflow_id}/status")
    assert status == 200, body
    view: dict[str, Any] = json.loads(body)
    return view


@contextmanager
def frozen_server() -> Iterator[str]:
    """A TCP listener that accepts connections and never answers: a frozen server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()


class PageParts(HTMLParser):
    """The parts of a page the tests look at: form controls, labels, scripts, styles."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_targets: set[str] = set()
        self.label_texts: list[str] = []
        self.options: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.inline_handlers: list[str] = []
        self.style_attributes: int = 0
        self.style_elements: int = 0
        self._in: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.inline_handlers += [name for name, _ in attrs if name.startswith("on")]
        self.style_attributes += "style" in attributes
        if tag in ("input", "select", "textarea"):
            self.controls.append({"tag": tag, **attributes})
        elif tag == "label" and attributes.get("for"):
            self.label_targets.add(str(attributes["for"]))
            self.label_texts.append("")
        elif tag == "script":
            self.scripts.append(attributes)
        elif tag == "style":
            self.style_elements += 1
        if tag in ("label", "option"):
            self._in = tag
            if tag == "option":
                self.options.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "label" and self.label_texts:
            self.label_texts[-1] += data
        elif self._in == "option":
            self.options[-1] += data.strip()
