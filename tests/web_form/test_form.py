"""The web form through Flask's test client, against the time-skipping test server and an
in-process worker (the fixtures in tests/conftest.py), or a real dev server where the test
reads what only it keeps (the start's details)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from launcher.ports import free_port
from launcher.processes import DevServer
from run_workflow import create_app
from shared import BookingInput, BookingResult
from tests.sync_bridge import run_async
from tests.web_form.conftest import app_config
from tests.web_form.helpers import TRIP, PageParts, fresh_form, submit, workflow_id_of


@pytest.fixture
def app(env: WorkflowEnvironment, task_queue: str) -> Iterator[Flask]:
    address = env.client.service_client.config.target_host
    app = create_app(app_config(address, task_queue))
    yield app
    app.extensions["temporal_gateway"].close()


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


async def in_thread(call: Any, *args: Any, **kwargs: Any) -> Any:
    """A view blocks until Temporal answers; run it off this loop, where the worker lives."""
    return await asyncio.to_thread(call, *args, **kwargs)


async def workflow_input(client: Client, workflow_id: str) -> BookingInput:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [booking] = await client.data_converter.decode(list(started.input.payloads), [BookingInput])
    assert isinstance(booking, BookingInput)
    return booking


def test_the_form_has_the_demo_labels_defaults_and_a_label_for_every_input(
    http: FlaskClient,
) -> None:
    response = http.get("/")

    assert response.status_code == 200
    page = PageParts(response.get_data(as_text=True))
    assert "Number of Failures Before Success:" in page.label_texts
    assert "Booking with a bug in its code:" in page.label_texts
    assert page.options == [
        "No failure",
        "Car Booking Failure",
        "Hotel Booking Failure",
        "Flight Booking Failure",
        "No bug",
        "Car",
        "Hotel",
        "Flight",
    ]
    visible = [control for control in page.controls if control.get("type") != "hidden"]
    assert {control["name"] for control in visible} == {
        "name",
        "car",
        "hotel",
        "flight",
        "failures_before_success",
        "fail_at",
        "network_delay_seconds",
        "compensation_failures",
        "parallel_compensation",
        "continue_with_error",
        "bug_at",
    }
    assert all(control["id"] in page.label_targets for control in visible)
    defaults = {control["name"]: control.get("value") for control in visible}
    assert all(defaults[field] for field in ("name", "car", "hotel", "flight"))
    assert defaults["network_delay_seconds"] == "3"


@pytest.mark.usefixtures("worker")
async def test_a_valid_submit_starts_the_workflow_with_exactly_what_was_typed(
    http: FlaskClient, client: Client
) -> None:
    typed = {
        **TRIP,
        "failures_before_success": "2",
        "fail_at": "hotel",
        "network_delay_seconds": "1.5",
        "compensation_failures": "1",
        "parallel_compensation": "true",
        "bug_at": "flight",
    }
    response = await in_thread(submit, http, typed)

    workflow_id = workflow_id_of(response)
    assert workflow_id.startswith("booking-grace-hopper-")
    assert await workflow_input(client, workflow_id) == BookingInput(
        name="Grace Hopper",
        car="Volvo EX30",
        hotel="Hotel Adlon",
        flight="LH 404",
        failures_before_success=2,
        fail_at="hotel",
        network_delay_seconds=1.5,
        compensation_failures=1,
        parallel_compensation=True,
        continue_with_error=False,
        bug_at="flight",
    )
    # Its retries would take real seconds; what matters here is what it was started with.
    await client.get_workflow_handle(workflow_id).terminate("test done")


@pytest.mark.usefixtures("worker")
async def test_submitting_the_same_form_twice_starts_one_saga(
    http: FlaskClient, client: Client
) -> None:
    tokens = await in_thread(fresh_form, http)
    first = workflow_id_of(await in_thread(submit, http, TRIP, tokens))
    # The run the first submit started, read before a second submit could replace it.
    run_id = (await client.get_workflow_handle(first).describe()).run_id
    again = workflow_id_of(await in_thread(submit, http, TRIP, tokens))

    assert again == first
    assert (await client.get_workflow_handle(first).describe()).run_id == run_id
    # That very run books the trip: the second submit joined it, it did not replace it.
    first_run = client.get_workflow_handle(first, run_id=run_id, result_type=BookingResult)
    assert (await first_run.result()).outcome == "booked"
    # After the saga has finished, a reload of the same form still finds it.
    after_finish = workflow_id_of(await in_thread(submit, http, TRIP, tokens))
    assert after_finish == first
    assert (await client.get_workflow_handle(first).describe()).run_id == run_id
    # Changed input in the same form (Back, edit, submit) is a new booking.
    changed = workflow_id_of(await in_thread(submit, http, {**TRIP, "car": "Fiat 500"}, tokens))
    assert changed != first


@pytest.mark.usefixtures("worker")
async def test_the_status_follows_a_rollback_to_the_end(http: FlaskClient) -> None:
    # Real-time timers between the services: the page must see the steps one by one.
    form = {**TRIP, "fail_at": "flight", "network_delay_seconds": "0.4"}
    workflow_id = workflow_id_of(await in_thread(submit, http, form))

    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = await in_thread(http.get, f"/bookings/{workflow_id}/status")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        view = response.get_json()
        seen.append(view)
        if view["finished"]:
            break
        await asyncio.sleep(0.05)

    final = seen[-1]
    assert final["execution"] == "completed"
    assert final["outcome"] == "rolled_back"
    assert final["headline"] == "Rolled back: nothing is booked"
    assert final["undo_order"] == ["flight", "hotel", "car"]
    assert [(step["service"], step["state"]) for step in final["steps"]] == [
        ("car", "undone"),
        ("hotel", "undone"),
        ("flight", "failed"),
    ]
    assert final["steps"][2]["label"] == "Failed, undone"
    assert "flight booking rejected" in final["error"]
    # Followed as it happened: car, then hotel, were booked before anything was undone...
    booked_before_undo = [
        [step["state"] for step in view["steps"]] for view in seen if not view["undo_order"]
    ]
    assert ["booked", "waiting", "waiting"] in booked_before_undo
    assert ["booked", "booked", "waiting"] in booked_before_undo
    # ...and the undo order only ever grew.
    for earlier, later in itertools.pairwise(seen):
        assert later["undo_order"][: len(earlier["undo_order"])] == earlier["undo_order"]


@pytest.mark.usefixtures("worker")
async def test_the_live_page_shows_the_booking_and_links_to_the_temporal_ui(
    http: FlaskClient, client: Client
) -> None:
    workflow_id = workflow_id_of(await in_thread(submit, http, TRIP))
    await client.get_workflow_handle(workflow_id).result()

    response = await in_thread(http.get, f"/bookings/{workflow_id}")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert workflow_id in page
    assert f'href="http://localhost:8080/namespaces/default/workflows/{workflow_id}"' in page
    assert "Booked: car, hotel and flight" in page
    assert "Trip for Grace Hopper: Volvo EX30, Hotel Adlon, LH 404" in page


async def test_an_unknown_workflow_id_is_a_404_page(http: FlaskClient) -> None:
    page = await in_thread(http.get, "/bookings/booking-nobody-00000000")
    status = await in_thread(http.get, "/bookings/booking-nobody-00000000/status")

    assert page.status_code == 404
    assert "booking-nobody-00000000" in page.get_data(as_text=True)
    assert status.status_code == 404
    assert "booking-nobody-00000000" in status.get_json()["error"]


def test_with_the_server_down_the_form_answers_503_quickly_and_keeps_the_input() -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    app = create_app(app_config(address, "nowhere"))
    try:
        response = submit(app.test_client(), {**TRIP, "name": "Katherine Johnson"})
        elapsed = time.monotonic() - started
    finally:
        app.extensions["temporal_gateway"].close()

    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert address in page
    assert "temporal server start-dev" in page
    assert 'value="Katherine Johnson"' in page
    assert elapsed < 5


def test_each_booking_starts_with_details_that_name_what_was_broken(
    dev_app: Flask, dev_server: DevServer
) -> None:
    broken = {
        **TRIP,
        "failures_before_success": "2",
        "fail_at": "flight",
        "bug_at": "hotel",
        "network_delay_seconds": "1.5",
        "compensation_failures": "1",
        "parallel_compensation": "true",
    }
    workflows = {
        "broken": workflow_id_of(submit(dev_app.test_client(), broken)),
        "intact": workflow_id_of(submit(dev_app.test_client(), TRIP)),
    }

    async def details(workflow_id: str) -> str | None:
        client = await Client.connect(dev_server.address)
        return await (await client.get_workflow_handle(workflow_id).describe()).static_details()

    assert run_async(lambda: details(workflows["broken"])) == (
        "**What is broken in this booking**\n\n"
        "- Failures before success: 2 per booking\n"
        "- Booking that fails for good: flight\n"
        "- Booking with a bug in its code: hotel (the line marked `# BUG` in `activities.py`)\n"
        "- Shaky-network delay: 1.5 s between two services\n"
        "- Undo: all at once; each fails once first"
    )
    assert run_async(lambda: details(workflows["intact"])) == (
        "**What is broken in this booking**\n\n"
        "- Failures before success: none\n"
        "- Booking that fails for good: none\n"
        "- Booking with a bug in its code: none\n"
        "- Shaky-network delay: 0 s between two services\n"
        "- Undo: one by one, newest first"
    )
