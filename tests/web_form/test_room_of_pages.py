"""A room full of open live pages: concurrent polls of one booking share one fetch, whether a
worker polls is asked at most every couple of seconds, the worker is asked again only when the
booking's history has grown or no query has been answered for a couple of seconds, and a booking
without a worker is told without asking for one. The real dev server counts the requests it
answers (its metrics); the app is served by waitress, with a real worker process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any

import pytest
from temporalio.client import Client

from benchmarks.web_latency import concurrently
from launcher.processes import DevServer, WorkerProcess
from run_workflow import create_app
from shared import TASK_QUEUE
from tests.servers import frontend_requests
from tests.sync_bridge import run_async
from tests.web_form.conftest import app_config
from tests.web_form.helpers import TRAVELLER, poll, serving
from tools.form_visitor import FormVisitor
from web_form.live_view import ANSWER_FRESH_SECONDS, POLLERS_FRESH_SECONDS

pytestmark = pytest.mark.real_server

POLLS_AT_ONCE = 20


def test_concurrent_polls_of_one_booking_share_one_fetch(
    dev_server: DevServer, worker_process: WorkerProcess
) -> None:
    with booked_on(dev_server, network_delay_seconds=5) as (browser, workflow_id):
        poll(browser, workflow_id)
        before = frontend_requests(dev_server)
        concurrently([partial(poll, browser, workflow_id) for _ in range(POLLS_AT_ONCE)])
        asked = frontend_requests(dev_server) - before

    # Each poll on its own would ask each of the three questions once.
    assert asked["DescribeWorkflowExecution"] < POLLS_AT_ONCE / 2, asked
    assert asked["QueryWorkflow"] < POLLS_AT_ONCE / 2, asked
    assert asked["DescribeTaskQueue"] <= 1, asked


def test_whether_a_worker_polls_is_asked_at_most_every_two_seconds(
    dev_server: DevServer, worker_process: WorkerProcess
) -> None:
    polls = 10
    with booked_on(dev_server, network_delay_seconds=5) as (browser, workflow_id):
        before = frontend_requests(dev_server)
        started = time.monotonic()
        for _ in range(polls):
            poll(browser, workflow_id)
        elapsed = time.monotonic() - started
        asked = frontend_requests(dev_server) - before

    assert asked["DescribeWorkflowExecution"] == polls, asked
    assert asked["DescribeTaskQueue"] <= 1 + elapsed // POLLERS_FRESH_SECONDS, (asked, elapsed)


@contextmanager
def booked_on(
    dev_server: DevServer,
    network_delay_seconds: float,
    answer_fresh_seconds: float = ANSWER_FRESH_SECONDS,
) -> Iterator[tuple[FormVisitor, str]]:
    """The app, served on the session worker's task queue, and a booking made through it as a
    browser makes it: the browser and the booking's workflow id."""
    app = create_app(app_config(dev_server.address, TASK_QUEUE))
    app.extensions["live_views"].answer_fresh_seconds = answer_fresh_seconds
    with serving(app) as url:
        browser = FormVisitor(url)
        booking = replace(TRAVELLER, network_delay_seconds=network_delay_seconds)
        yield browser, browser.book(booking)


def in_network_delay(view: dict[str, Any]) -> bool:
    return any(step["badge"] == "delayed" for step in view["steps"])


def test_while_the_history_stays_as_it_was_the_worker_is_asked_every_two_seconds_at_most(
    dev_server: DevServer, worker_process: WorkerProcess
) -> None:
    # The car is booked in a moment, then the saga waits 20 s: its history stays as it is.
    with booked_on(dev_server, network_delay_seconds=20) as (browser, workflow_id):
        run_async(partial(timer_started, dev_server.address, workflow_id))
        first = poll(browser, workflow_id)
        before = frontend_requests(dev_server)
        started = time.monotonic()
        views = []
        while time.monotonic() - started < 1.5 * ANSWER_FRESH_SECONDS:
            views.append(poll(browser, workflow_id))
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        asked = frontend_requests(dev_server) - before

    assert in_network_delay(first), first
    assert all(view == first for view in views), "the same history: the same view"
    assert asked["DescribeWorkflowExecution"] == len(views) >= 5, asked
    # Every poll would ask the worker without the kept answer; with it, it is asked once its
    # answer is two seconds old: at least once in three seconds, at most once every two.
    assert 1 <= asked["QueryWorkflow"] <= 1 + elapsed // ANSWER_FRESH_SECONDS, (asked, elapsed)


def test_a_kept_answer_stands_while_the_workers_answer_another_bookings_query(
    dev_server: DevServer, worker_process: WorkerProcess
) -> None:
    # Both sagas wait 20 s after the car: once their timers are in the server's history,
    # their histories stay as they are (the page may show the delay a moment before that).
    with booked_on(dev_server, network_delay_seconds=20) as (browser, first_id):
        other_id = browser.book(replace(TRAVELLER, network_delay_seconds=20))
        for workflow_id in (first_id, other_id):
            run_async(partial(timer_started, dev_server.address, workflow_id))
        first = poll(browser, first_id)
        poll(browser, other_id)
        time.sleep(ANSWER_FRESH_SECONDS)  # no answer is fresh any more: the next poll asks
        before = frontend_requests(dev_server)
        poll(browser, other_id)
        asked_for_other = frontend_requests(dev_server) - before
        again = poll(browser, first_id)
        asked_for_first = frontend_requests(dev_server) - before - asked_for_other

    assert in_network_delay(first), first
    assert asked_for_other["QueryWorkflow"] == 1, asked_for_other
    # The workers answered a moment ago and the history is as it was: the answer stands.
    assert asked_for_first["QueryWorkflow"] == 0, asked_for_first
    assert again == first


def test_a_poll_after_the_history_grew_shows_the_saga_moved_on_at_once(
    dev_server: DevServer, worker_process: WorkerProcess
) -> None:
    # A kept answer that stays fresh for a minute: only the grown history can ask again.
    with booked_on(dev_server, network_delay_seconds=1, answer_fresh_seconds=60) as (
        browser,
        workflow_id,
    ):
        run_async(partial(timer_started, dev_server.address, workflow_id))
        # The app's first poll: it asks the worker, and keeps the answer from now on.
        in_delay = poll(browser, workflow_id)
        grown = run_async(lambda: history_grows(dev_server.address, workflow_id))
        moved_on = poll(browser, workflow_id)

    assert in_delay["steps"][1]["badge"] == "delayed", in_delay["steps"][1]
    assert grown, "the network delay ends within seconds"
    assert moved_on["steps"][1]["state"] in {"booking", "booked"}, moved_on["steps"][1]


async def timer_started(address: str, workflow_id: str) -> None:
    """Once the saga waits in its first network delay (the server's history says so)."""
    handle = (await Client.connect(address)).get_workflow_handle(workflow_id)
    deadline = time.monotonic() + 20
    while not any(
        event.HasField("timer_started_event_attributes")
        for event in (await handle.fetch_history()).events
    ):
        assert time.monotonic() < deadline, "the saga never waited in a network delay"
        await asyncio.sleep(0.02)


async def history_grows(address: str, workflow_id: str) -> bool:
    """Whether the run's history grows within 5 s (the server's count of its events)."""
    handle = (await Client.connect(address)).get_workflow_handle(workflow_id)

    async def length() -> int:
        description = await handle.describe()
        return description.raw_description.workflow_execution_info.history_length

    now = await length()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if await length() > now:
            return True
        await asyncio.sleep(0.02)
    return False


def test_without_a_worker_the_polls_say_so_at_once_without_asking_for_one(
    dev_server: DevServer, quiet_queue: str
) -> None:
    with serving(create_app(app_config(dev_server.address, quiet_queue))) as url:
        browser = FormVisitor(url)
        workflow_id = browser.book(TRAVELLER)
        before = frontend_requests(dev_server)
        first = poll(browser, workflow_id)
        started = time.monotonic()
        later = [poll(browser, workflow_id) for _ in range(5)]
        elapsed = time.monotonic() - started
        asked = frontend_requests(dev_server) - before

    for view in (first, *later):
        assert view["worker_polling"] is False
        assert f"No worker is polling the task queue “{quiet_queue}”" in view["notice"]
        assert "python3 run_worker.py" in view["notice"]
    # The server says whether a worker polls before any query would go out.
    assert asked["QueryWorkflow"] == 0, "no worker polls: nobody could answer a query"
    assert elapsed < 5


def test_a_finished_run_is_asked_once_then_kept(
    dev_server: DevServer, worker_process: WorkerProcess
) -> None:
    # Asking a worker about a finished run replays its whole history; it can never change.
    # A terminated run is the one that ends without an outcome: its view says so.
    with booked_on(dev_server, network_delay_seconds=5) as (browser, workflow_id):
        assert poll(browser, workflow_id)["finished"] is False
        run_async(lambda: terminate(dev_server.address, workflow_id))
        before = frontend_requests(dev_server)
        ended = poll(browser, workflow_id)
        asked_first = frontend_requests(dev_server) - before
        time.sleep(ANSWER_FRESH_SECONDS)  # kept for good, not for a while
        again = poll(browser, workflow_id)
        asked_again = frontend_requests(dev_server) - before - asked_first

    assert (ended["execution"], ended["finished"], ended["outcome"]) == ("terminated", True, None)
    assert ended["answered"] is True
    assert asked_first["QueryWorkflow"] == 1, asked_first
    assert again == ended
    assert asked_again["QueryWorkflow"] == 0, asked_again


async def terminate(address: str, workflow_id: str) -> None:
    client = await Client.connect(address)
    await client.get_workflow_handle(workflow_id).terminate("the test ends it")
