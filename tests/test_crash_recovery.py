"""Crash a real worker or a real dev server mid-saga: the booking carries on, and books once.

The service latency and the network delay stretch the saga, so each kill lands at a known step.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import IO

import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowHandle

from book_workflow import BookingWorkflow
from launcher.processes import DevServer, WorkerProcess
from shared import TASK_QUEUE, BookingInput, BookingResult, new_workflow_id
from simulated_services import BookingServices
from tests.history import activity_runs, sticky_queue_waits

pytestmark = pytest.mark.real_server

TRIP = BookingInput("Katherine Johnson", "Volvo XC40", "Hotel Bristol", "SK 1415")


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within} s: {what}")


def assert_booked_once_each(
    ledger: BookingServices, workflow_id: str, result: BookingResult
) -> None:
    rows = ledger.reservations(workflow_id)
    assert sorted(row.service for row in rows) == ["car", "flight", "hotel"]
    assert all(row.state == "booked" for row in rows)
    assert {row.service: row.confirmation for row in rows} == result.booked


async def test_worker_killed_mid_booking_carries_on_with_no_double_booking(
    tmp_path: Path, log: Callable[[str], IO[bytes]]
) -> None:
    server = DevServer(log=log("server"))
    server.start()
    ledger = BookingServices(tmp_path / "ledger.sqlite3")
    first = WorkerProcess(
        address=server.address,
        ledger=ledger.ledger_path,
        service_latency_seconds=1.0,
        log=log("first-worker"),
    )
    second = WorkerProcess(
        address=server.address,
        ledger=ledger.ledger_path,
        service_latency_seconds=1.0,
        log=log("second-worker"),
    )
    try:
        await server.wait_until_ready()
        client = await Client.connect(server.address)
        first.start()
        await first.wait_until_ready()
        handle: WorkflowHandle[BookingWorkflow, BookingResult] = await client.start_workflow(
            BookingWorkflow.run,
            replace(TRIP, network_delay_seconds=0.5),
            id=new_workflow_id(TRIP.name),
            task_queue=TASK_QUEUE,
        )

        async def hotel_call_in_progress() -> bool:
            pending = (await handle.describe()).raw_description.pending_activities
            return any(
                activity.activity_type.name == "book_hotel"
                and activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                for activity in pending
            )

        await wait_until(hotel_call_in_progress, "the first worker calls the hotel service")
        first.kill()
        assert ledger.booked(handle.id).keys() == {"car"}, "killed before the hotel was booked"

        second.start()
        result = await asyncio.wait_for(handle.result(), timeout=45)

        assert result.outcome == "booked"
        assert_booked_once_each(ledger, handle.id, result)
        runs = {run.activity_type: run for run in activity_runs(await handle.fetch_history())}
        assert runs["book_car"].attempt == 1, "the car, booked before the crash, is not redone"
        assert runs["book_hotel"].attempt == 2, "the hotel call lost in the crash is retried"
        # Noticed by its missing heartbeats, not after the 10 s start-to-close timeout; and a
        # task offered first to the dead worker (it held the workflow) is soon offered to any.
        assert runs["book_hotel"].retried_after == "activity Heartbeat timeout"
        assert all(wait < 5 for wait in sticky_queue_waits(await handle.fetch_history()))
        second_log = (tmp_path / "second-worker.log").read_text()
        assert "book_hotel attempt 2" in second_log
        assert "book_car" not in second_log
    finally:
        second.stop()
        first.kill()
        server.stop()


async def test_dev_server_killed_mid_saga_with_persisted_data_carries_on(
    tmp_path: Path, log: Callable[[str], IO[bytes]]
) -> None:
    database = tmp_path / "data" / "temporal.sqlite3"
    server = DevServer(db_filename=database, log=log("server"))
    restarted = DevServer(port=server.port, db_filename=database, log=log("restarted-server"))
    ledger = BookingServices(tmp_path / "ledger.sqlite3")
    worker = WorkerProcess(
        address=server.address,
        ledger=ledger.ledger_path,
        service_latency_seconds=0.5,
        log=log("worker"),
    )
    server.start()
    try:
        await server.wait_until_ready()
        client = await Client.connect(server.address)
        worker.start()
        await worker.wait_until_ready()
        handle: WorkflowHandle[BookingWorkflow, BookingResult] = await client.start_workflow(
            BookingWorkflow.run,
            replace(TRIP, network_delay_seconds=2),
            id=new_workflow_id(TRIP.name),
            task_queue=TASK_QUEUE,
        )

        async def car_booked() -> bool:
            status = await handle.query(BookingWorkflow.status)
            return status.steps[0].state == "booked"

        await wait_until(car_booked, "the car is booked")
        server.kill()
        assert ledger.booked(handle.id).keys() == {"car"}, "killed in the network delay"

        restarted.start()
        await restarted.wait_until_ready()
        result = await asyncio.wait_for(handle.result(), timeout=45)

        assert result.outcome == "booked"
        assert_booked_once_each(ledger, handle.id, result)
        runs = {run.activity_type: run for run in activity_runs(await handle.fetch_history())}
        assert runs["book_car"].attempt == 1
        assert worker.process is not None
        assert worker.process.poll() is None, "the worker rode out the outage"
    finally:
        worker.stop()
        server.kill()
        restarted.stop()
