"""The presenter kills the worker mid-saga: the page keeps answering and says that no worker
answers and how to start one. (That a new worker finishes the saga is the soak's to prove.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from launcher.processes import DevServer, WorkerProcess
from run_workflow import create_app
from shared import TASK_QUEUE
from tests.servers import running_dev_server
from tests.sync_bridge import run_async
from tests.web_form.conftest import app_config
from tests.web_form.helpers import TRIP, submit, workflow_id_of
from web_form.gateway import RPC_TIMEOUT
from web_form.live_view import ANSWER_FRESH_SECONDS

pytestmark = pytest.mark.real_server

REPORTED_WITHIN_SECONDS = ANSWER_FRESH_SECONDS + RPC_TIMEOUT.total_seconds() + 1.5
"""The kept answer's age, the query's timeout, and room for two polls."""


@pytest.fixture
def own_server() -> Iterator[DevServer]:
    """A server of its own: this test kills the worker on the default task queue."""
    with running_dev_server() as server:
        yield server


def status_until(
    http: FlaskClient, workflow_id: str, wanted: Any, within_seconds: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + within_seconds
    while True:
        view: dict[str, Any] = http.get(f"/bookings/{workflow_id}/status").get_json()
        if wanted(view) or time.monotonic() > deadline:
            return view
        time.sleep(0.1)


def test_a_killed_worker_is_reported_with_how_to_start_one(
    own_server: DevServer, tmp_path: Path
) -> None:
    worker = WorkerProcess(
        address=own_server.address, ledger=tmp_path / "ledger.sqlite3", service_latency_seconds=0.1
    )
    worker.start()
    app = create_app(app_config(own_server.address, TASK_QUEUE))
    http = app.test_client()
    try:
        run_async(worker.wait_until_ready)
        workflow_id = workflow_id_of(submit(http, {**TRIP, "network_delay_seconds": "10"}))
        car_booked = status_until(http, workflow_id, lambda view: view["steps"][0]["confirmation"])
        assert car_booked["steps"][0]["state"] == "booked"
        # The saga waits in its network delay now, its history settled: the answer to this
        # poll is kept for as long as the history stays as it is and the answer is fresh.
        time.sleep(0.3)
        assert http.get(f"/bookings/{workflow_id}/status").get_json()["answered"]

        worker.kill()
        killed = time.monotonic()
        # Polls as the page's script does. Until the kept answer is two seconds old, the
        # history (the saga waits in its network delay) says nothing changed; then the query
        # goes out and nobody answers it.
        polls: list[tuple[int, float, dict[str, Any]]] = []
        while not polls or polls[-1][2]["answered"]:
            assert time.monotonic() - killed < REPORTED_WITHIN_SECONDS, polls
            started = time.monotonic()
            response = http.get(f"/bookings/{workflow_id}/status")
            polls.append((response.status_code, time.monotonic() - started, response.get_json()))
            time.sleep(0.4)
        reported_after = time.monotonic() - killed
        without_worker = polls[-1][2]
    finally:
        worker.stop()
        app.extensions["temporal_gateway"].close()

    # The server still answers: a 200 in time, not a 503, on every poll.
    assert all(status == 200 and elapsed < 5 for status, elapsed, _ in polls), polls
    # Before the report, what the worker last said, which is still true.
    assert all(view["steps"][0]["state"] == "booked" for _, _, view in polls[:-1]), polls
    assert reported_after < REPORTED_WITHIN_SECONDS
    assert without_worker["answered"] is False
    assert "No worker answered the status query" in without_worker["notice"]
    assert "python3 run_worker.py" in without_worker["notice"]
    # The items stay named; their state is "unknown", so the page keeps what it last showed.
    assert [step["item"] for step in without_worker["steps"]] == [
        "Volvo EX30",
        "Hotel Adlon",
        "LH 404",
    ]
    assert {step["state"] for step in without_worker["steps"]} == {"unknown"}
