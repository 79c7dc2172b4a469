"""The outcome in the Temporal UI's list, on real dev servers with and without `BookingOutcome`.

Bookings go through the real form, a real worker process books them. Where the server has the
attribute (the launcher's `--search-attribute` flag, or the worker registering it on a plain
`temporal server start-dev`), each booking records its outcome, `temporal workflow list --query`
finds it and /bookings shows it. Where the server lacks it and refuses to register it, every
booking still ends as it should, and nothing claims an outcome.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

import pytest
from flask import Flask
from temporalio.client import Client
from temporalio.common import TypedSearchAttributes

from launcher.processes import DevServer, WorkerProcess, running, venv_binary
from run_workflow import create_app
from runtime.search_attributes import OutcomeAttribute, register_outcome_attribute
from shared import BOOKING_OUTCOME, TASK_QUEUE, pending_outcome
from tests.web_form.conftest import app_config
from tests.web_form.helpers import TRIP, submit, workflow_id_of

pytestmark = pytest.mark.real_server

# Ten Keyword attributes fill the dev server's SQLite visibility store: it refuses an eleventh.
NO_ROOM_LEFT = {f"Filler{number}": "Keyword" for number in range(10)}
TRIPS = {"booked": {}, "rolled_back": {"fail_at": "hotel"}}


@asynccontextmanager
async def demo(
    tmp_path: Path, log: Callable[[str], IO[bytes]], **server_options: Any
) -> AsyncIterator[tuple[DevServer, WorkerProcess, Flask]]:
    """A dev server, a worker process and the form's app, as the demo runs them."""
    server = DevServer(log=log("server"), **server_options)
    worker = WorkerProcess(
        address=server.address, ledger=tmp_path / "ledger.sqlite3", log=log("worker")
    )
    async with running(server, worker):
        app = create_app(app_config(server.address, TASK_QUEUE))
        try:
            yield server, worker, app
        finally:
            app.extensions["temporal_gateway"].close()


async def book_through_the_form(app: Flask, server: DevServer) -> dict[str, str]:
    """Each of `TRIPS` booked through the form, to its end: workflow id to the result's outcome."""
    http = app.test_client()
    client = await Client.connect(server.address)
    ended = {}
    for name, changes in TRIPS.items():
        form = {**TRIP, "name": f"Trip {name}", **changes}
        workflow_id = workflow_id_of(await asyncio.to_thread(submit, http, form))
        handle = client.get_workflow_handle(workflow_id)
        ended[workflow_id] = (await asyncio.wait_for(handle.result(), timeout=30))["outcome"]
    assert sorted(ended.values()) == sorted(TRIPS)
    return ended


async def recorded_outcomes(server: DevServer, workflow_ids: list[str]) -> dict[str, str | None]:
    client = await Client.connect(server.address)
    return {
        workflow_id: (
            await client.get_workflow_handle(workflow_id).describe()
        ).typed_search_attributes.get(BOOKING_OUTCOME)
        for workflow_id in workflow_ids
    }


def cli_list(server: DevServer, query: str) -> list[str]:
    """The workflow ids `temporal workflow list --query` prints, once visibility has them."""
    deadline = time.monotonic() + 10
    while True:
        listed = subprocess.run(
            [
                venv_binary("temporal"),
                *("workflow", "list", "--address", server.address, "--query", query),
                *("--output", "json"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        ids = [
            execution["execution"]["workflowId"] for execution in json.loads(listed.stdout or "[]")
        ]
        if ids or time.monotonic() > deadline:
            return ids
        time.sleep(0.2)


def bookings_page(app: Flask) -> str:
    response = app.test_client().get("/bookings")
    assert response.status_code == 200
    return response.get_data(as_text=True)


async def test_on_the_launchers_dev_server_each_booking_records_its_outcome(
    tmp_path: Path, log: Callable[[str], IO[bytes]]
) -> None:
    async with demo(tmp_path, log) as (server, _, app):
        ended = await book_through_the_form(app, server)

        assert await recorded_outcomes(server, list(ended)) == ended
        rolled_back = [
            workflow_id for workflow_id, outcome in ended.items() if outcome == "rolled_back"
        ]
        assert cli_list(server, 'BookingOutcome="rolled_back"') == rolled_back
        page = await asyncio.to_thread(bookings_page, app)
        assert page.count('<span class="outcome-rolled_back">rolled back</span>') == 1
        assert page.count('<span class="outcome-booked">booked</span>') == 1
    assert "did not register" not in (tmp_path / "worker.log").read_text()


async def test_on_a_plain_dev_server_the_worker_registers_the_attribute(
    tmp_path: Path, log: Callable[[str], IO[bytes]]
) -> None:
    # `temporal server start-dev --ui-port 8080`, as in the three-terminal mode.
    async with demo(tmp_path, log, search_attributes={}) as (server, _, app):
        ended = await book_through_the_form(app, server)

        assert await recorded_outcomes(server, list(ended)) == ended
        booked = [workflow_id for workflow_id, outcome in ended.items() if outcome == "booked"]
        assert cli_list(server, 'BookingOutcome="booked"') == booked
    assert "Registered the search attribute BookingOutcome" in (tmp_path / "worker.log").read_text()


async def test_a_server_that_refuses_the_attribute_still_books_and_rolls_back(
    tmp_path: Path, log: Callable[[str], IO[bytes]]
) -> None:
    async with demo(tmp_path, log, search_attributes=NO_ROOM_LEFT) as (server, worker, app):
        ended = await book_through_the_form(app, server)

        assert await recorded_outcomes(server, list(ended)) == dict.fromkeys(ended)
        page = await asyncio.to_thread(bookings_page, app)
        assert page.count("not recorded") == len(ended)
        assert worker.running
    worker_log = (tmp_path / "worker.log").read_text()
    assert "did not register the search attribute BookingOutcome" in worker_log
    assert "cannot have more than 10 search attribute of type Keyword" in worker_log


async def test_the_form_asks_until_the_server_has_the_attribute(
    log: Callable[[str], IO[bytes]],
) -> None:
    # A form started before any worker registered the attribute picks it up once it is there.
    server = DevServer(log=log("server"), search_attributes={})
    async with running(server):
        client = await Client.connect(server.address)
        outcome_attribute = OutcomeAttribute()

        assert await outcome_attribute.start_attributes(client) == TypedSearchAttributes.empty
        assert await register_outcome_attribute(client)
        assert await outcome_attribute.start_attributes(client) == pending_outcome()
