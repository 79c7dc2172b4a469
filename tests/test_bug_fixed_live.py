"""A bug fixed live: the booking with a bug keeps retrying until the code is fixed and a new
worker runs it; then the same run completes, with nothing booked twice.

The retry window is checked on the time-skipping server (fifteen minutes pass in seconds); the
fix itself with real processes: a copy of the project, a worker running it with the bug, the
marked line deleted from the copy, a new worker.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import IO

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from book_workflow import BUG_FIX_WINDOW, BookingWorkflow
from launcher.processes import DevServer, WorkerProcess
from shared import TASK_QUEUE, BookingResult, new_workflow_id
from simulated_services import BookingServices
from tests.history import activity_runs, assert_replays, workflow_clock_seconds
from tests.test_booking_workflow import TRIP
from tests.test_crash_recovery import assert_booked_once_each, wait_until
from tools.project_copy import copy_project, delete_the_bug


@pytest.mark.usefixtures("worker")
async def test_the_booking_with_a_bug_retries_for_fifteen_minutes_then_rolls_back(
    env: WorkflowEnvironment, client: Client, task_queue: str, ledger: BookingServices
) -> None:
    if not env.supports_time_skipping:
        pytest.skip("fifteen minutes of retries take fifteen minutes without time skipping")
    handle: WorkflowHandle[BookingWorkflow, BookingResult] = await client.start_workflow(
        BookingWorkflow.run,
        replace(TRIP, bug_at="hotel"),
        id=f"booking-test-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )

    await env.sleep(timedelta(minutes=10))
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    [hotel] = description.raw_description.pending_activities
    assert hotel.activity_type.name == "book_hotel"
    assert hotel.attempt > 100, "retried every 5 s, far beyond the other bookings' 8 attempts"
    assert "Unknown format code" in hotel.last_failure.message
    assert set(ledger.booked(handle.id)) == {"car", "hotel"}, "the hotel was taken only once"

    result = await handle.result()
    assert result.outcome == "rolled_back"
    assert "Unknown format code" in str(result.error)
    assert ledger.booked(handle.id) == {}
    history = await assert_replays(handle)
    # It gives up at the last attempt that still fits in the window (they are 5 s apart).
    window = BUG_FIX_WINDOW.total_seconds()
    assert window - 10 <= workflow_clock_seconds(history) <= window
    [car, hotel_run, *undos] = activity_runs(history)
    assert (car.activity_type, car.attempt) == ("book_car", 1)
    assert hotel_run.activity_type == "book_hotel"
    assert [run.activity_type for run in undos] == ["undo_book_hotel", "undo_book_car"]


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The project's code in a folder of its own, for a test to edit as a developer would."""
    return copy_project(tmp_path / "project")


@pytest.mark.real_server
async def test_a_bug_fixed_live_lets_the_same_run_complete_with_nothing_booked_twice(
    tmp_path: Path, project_copy: Path, log: Callable[[str], IO[bytes]]
) -> None:
    server = DevServer(log=log("server"))
    ledger = BookingServices(tmp_path / "ledger.sqlite3")

    def worker(name: str) -> WorkerProcess:
        return WorkerProcess(
            address=server.address,
            ledger=ledger.ledger_path,
            service_latency_seconds=0.2,
            script=project_copy / "run_worker.py",
            log=log(name),
        )

    with_bug, fixed = worker("worker-with-bug"), worker("fixed-worker")
    server.start()
    try:
        await server.wait_until_ready()
        client = await Client.connect(server.address)
        with_bug.start()
        await with_bug.wait_until_ready()
        handle: WorkflowHandle[BookingWorkflow, BookingResult] = await client.start_workflow(
            BookingWorkflow.run,
            replace(TRIP, bug_at="hotel", network_delay_seconds=0.2),
            id=new_workflow_id(TRIP.name),
            task_queue=TASK_QUEUE,
        )

        seen_attempts: list[int] = []

        async def hotel_retrying() -> bool:
            pending = (await handle.describe()).raw_description.pending_activities
            seen_attempts.extend(
                activity.attempt
                for activity in pending
                if activity.activity_type.name == "book_hotel"
            )
            return max(seen_attempts, default=0) >= 2

        await wait_until(hotel_retrying, "the hotel booking retries its bug", within=30)
        bug_log = (tmp_path / "worker-with-bug.log").read_text()
        assert "Unknown format code 'd' for object of type 'str'" in bug_log
        assert str(project_copy / "activities.py") in bug_log, "the copy's code ran"

        # The developer's fix: delete the marked line, restart the worker.
        delete_the_bug(project_copy)
        with_bug.stop()
        restarted = time.monotonic()
        fixed.start()
        result = await asyncio.wait_for(handle.result(), timeout=60)
        print(f"completed {time.monotonic() - restarted:.1f} s after the fixed worker started")

        assert result.outcome == "booked"
        assert_booked_once_each(ledger, handle.id, result)
        runs = {run.activity_type: run for run in activity_runs(await handle.fetch_history())}
        assert runs["book_car"].attempt == 1, "the car, booked before the fix, is not redone"
        # The same activity, retried after the fix: no new booking of the hotel was scheduled.
        assert runs["book_hotel"].attempt >= max(seen_attempts) >= 2
        fixed_log = (tmp_path / "fixed-worker.log").read_text()
        assert f"booked {result.booked['hotel']}" in fixed_log
        assert "book_car" not in fixed_log
    finally:
        fixed.stop()
        with_bug.kill()
        server.kill()
