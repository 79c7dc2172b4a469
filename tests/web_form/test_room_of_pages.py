"""A room full of open live pages: concurrent polls of one booking share one fetch, whether a
worker polls is asked at most every couple of seconds, and a booking without a worker is told
without asking for one. The real dev server counts the requests it answers (its metrics);
the app is served by waitress, with a real worker process."""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial

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
from web_form.live_view import POLLERS_FRESH_SECONDS

pytestmark = pytest.mark.real_server

POLLS_AT_ONCE = 20


def test_concurrent_polls_of_one_booking_share_one_fetch(
    dev_server: DevServer, worker_process: WorkerProcess
) -> None:
    with serving(create_app(app_config(dev_server.address, TASK_QUEUE))) as url:
        browser = FormVisitor(url)
        workflow_id = browser.book(replace(TRAVELLER, network_delay_seconds=5))  # runs on
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
    with serving(create_app(app_config(dev_server.address, TASK_QUEUE))) as url:
        browser = FormVisitor(url)
        workflow_id = browser.book(replace(TRAVELLER, network_delay_seconds=5))
        before = frontend_requests(dev_server)
        started = time.monotonic()
        for _ in range(polls):
            poll(browser, workflow_id)
        elapsed = time.monotonic() - started
        asked = frontend_requests(dev_server) - before

    assert asked["DescribeWorkflowExecution"] == polls, asked
    assert asked["QueryWorkflow"] == polls, asked
    assert asked["DescribeTaskQueue"] <= 1 + elapsed // POLLERS_FRESH_SECONDS, (asked, elapsed)


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
    # The first poll's query went out with its other questions, before the server said that
    # no worker polls, and was dropped then; the server counts it when it gives up on it,
    # which may fall inside this count or not. The five polls after it ask none.
    assert asked["QueryWorkflow"] <= 1, "no worker polls: nobody could answer a query"
    assert elapsed < 5


def test_a_finished_run_whose_status_has_no_outcome_is_asked_once_more_then_kept(
    dev_server: DevServer, worker_process: WorkerProcess
) -> None:
    # A worker may answer the query just before the run's last step while the server already
    # describes the run as ended; such an answer has no outcome, so the view asks again.
    # A terminated run is the one that really ends without an outcome: it shows the guard.
    with serving(create_app(app_config(dev_server.address, TASK_QUEUE))) as url:
        browser = FormVisitor(url)
        workflow_id = browser.book(replace(TRAVELLER, network_delay_seconds=5))
        assert poll(browser, workflow_id)["finished"] is False
        run_async(lambda: terminate(dev_server.address, workflow_id))
        before = frontend_requests(dev_server)
        ended = poll(browser, workflow_id)
        asked_first = frontend_requests(dev_server) - before
        again = poll(browser, workflow_id)
        asked_again = frontend_requests(dev_server) - before - asked_first

    assert (ended["execution"], ended["finished"], ended["outcome"]) == ("terminated", True, None)
    assert asked_first["QueryWorkflow"] == 2, asked_first
    assert again == ended
    assert asked_again["QueryWorkflow"] == 0, asked_again


async def terminate(address: str, workflow_id: str) -> None:
    client = await Client.connect(address)
    await client.get_workflow_handle(workflow_id).terminate("the test ends it")
