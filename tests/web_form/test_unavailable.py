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
    """Two forms: one connected before the server froze, one whose first connection meets the
    frozen server. Both answer with the clear page in time, and both work again on their own
    once the server resumes."""
    server = DevServer()
    server.start()
    try:
        run_async(server.wait_until_ready)
        connected = create_app(app_config(server.address, "frozen-test"))
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            # Its first connection is the submit's, so that it meets the frozen server there.
            first_contact = create_app(
                app_config(server.address, "frozen-test", TEMPORAL_CONNECT_EAGERLY=False)
            )
            seconds = {}
            answers = []
            for name, app in (("connected", connected), ("first contact", first_contact)):
                started = time.monotonic()
                answers.append(submit(app.test_client(), {**TRIP, "name": "Dorothy Vaughan"}))
                seconds[name] = time.monotonic() - started
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        recovered = [submit(app.test_client(), TRIP) for app in (connected, first_contact)]
        for app in (connected, first_contact):
            app.extensions["temporal_gateway"].close()
    finally:
        server.kill()  # in memory: nothing to keep, no need to wait

    for frozen in answers:
        assert frozen.status_code == 503
        page = frozen.get_data(as_text=True)
        assert f"Cannot reach the Temporal server at {server.address}" in page
        assert "did not answer" in page
        assert "temporal server start-dev" in page
        assert 'value="Dorothy Vaughan"' in page
    # The first connection is bounded as the calls are, and says so in the same words.
    first_page = answers[1].get_data(as_text=True)
    assert "it accepted the connection but did not answer within 2 seconds" in first_page
    assert all(took < 5 for took in seconds.values()), seconds
    assert [answer.status_code for answer in recovered] == [303, 303]
