"""Temporal down, frozen or unreachable: the app answers 503 within 5 s, names the server and
says how to start one; it never hangs a request."""

from __future__ import annotations

import os
import signal
import time

import pytest

from launcher.processes import DevServer
from run_workflow import create_app
from tests.sync_bridge import run_async
from tests.web_form.conftest import app_config
from tests.web_form.helpers import TRIP, frozen_server, submit


def test_a_server_that_accepts_but_never_answers_gives_503_within_5_seconds() -> None:
    with frozen_server() as address:
        started = time.monotonic()
        app = create_app(app_config(address, "frozen", TEMPORAL_CONNECT_EAGERLY=False))
        try:
            status = app.test_client().get("/bookings/booking-someone-12345678/status")
            elapsed = time.monotonic() - started
        finally:
            app.extensions["temporal_gateway"].close()

    assert status.status_code == 503
    message = status.get_json()["error"]
    assert address in message
    assert "temporal server start-dev" in message
    assert elapsed < 5


@pytest.mark.real_server
def test_a_frozen_dev_server_gives_503_within_5_seconds_and_the_form_recovers() -> None:
    server = DevServer()
    server.start()
    try:
        run_async(server.wait_until_ready)
        app = create_app(app_config(server.address, "frozen-test"))
        http = app.test_client()
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            frozen = submit(http, {**TRIP, "name": "Dorothy Vaughan"})
            elapsed = time.monotonic() - started
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        recovered = submit(http, TRIP)
        app.extensions["temporal_gateway"].close()
    finally:
        server.kill()  # in memory: nothing to keep, no need to wait

    assert frozen.status_code == 503
    page = frozen.get_data(as_text=True)
    assert server.address in page
    assert "temporal server start-dev" in page
    assert 'value="Dorothy Vaughan"' in page
    assert elapsed < 5
    assert recovered.status_code == 303
