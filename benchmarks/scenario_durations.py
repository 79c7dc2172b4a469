"""How long each demo of the presenter's guide takes, with the demo's own settings.

A real dev server and a real worker (service calls of 1 s, network delays of 3 s), on free
ports. Prints one line per scenario: seconds from the start of the booking to its end.

.venv/bin/python benchmarks/scenario_durations.py
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC
from pathlib import Path

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from book_workflow import BookingWorkflow
from launcher.processes import DevServer, WorkerProcess, running
from runtime.process import exit_without_finalizing
from shared import TASK_QUEUE, BookingInput, BookingResult, new_workflow_id
from simulated_services import BookingServices
from tools.project_copy import copy_project, delete_the_bug

TRIP = BookingInput("Ada Lovelace", "Toyota Supra", "Hotel Adlon", "LH 404")
SERVICE_LATENCY_SECONDS = 1.0
Handle = WorkflowHandle[BookingWorkflow, BookingResult]


def demo_worker(server: DevServer, ledger: Path) -> WorkerProcess:
    """A worker with the demo's service latency, on `server`."""
    return WorkerProcess(
        address=server.address, ledger=ledger, service_latency_seconds=SERVICE_LATENCY_SECONDS
    )


async def start(client: Client, booking: BookingInput) -> Handle:
    return await client.start_workflow(
        BookingWorkflow.run, booking, id=new_workflow_id(booking.name), task_queue=TASK_QUEUE
    )


async def wait_until(check: Callable[[], Awaitable[bool]], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the scenario did not reach its step in time")


async def step_state(handle: Handle, service: str) -> str:
    status = await handle.query(BookingWorkflow.status)
    return next(step.state for step in status.steps if step.service == service)


async def hotel_call_running(handle: Handle) -> bool:
    pending = (await handle.describe()).raw_description.pending_activities
    return any(
        activity.activity_type.name == "book_hotel"
        and activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        for activity in pending
    )


async def timed(label: str, scenario: Awaitable[str]) -> tuple[str, float, str]:
    began = time.monotonic()
    outcome = await scenario
    return label, time.monotonic() - began, outcome


async def run_to_end(client: Client, booking: BookingInput) -> str:
    result = await (await start(client, booking)).result()
    return f"{result.outcome}; undos {', '.join(result.compensations) or 'none'}"


async def cancel_when_hotel_booked(client: Client) -> str:
    handle = await start(client, TRIP)

    async def hotel_booked() -> bool:
        return await step_state(handle, "hotel") == "booked"

    await wait_until(hotel_booked)
    await handle.cancel()
    with contextlib.suppress(WorkflowFailureError):  # a cancelled workflow ends as cancelled
        await handle.result()
    status = await handle.query(BookingWorkflow.status)
    return f"{status.outcome}; undos {', '.join(status.compensations)}"


async def runs_an_activity(handle: Handle, worker: WorkerProcess) -> bool:
    """Whether `worker` runs one of the booking's activities now (its identity is pid@host)."""
    pending = (await handle.describe()).raw_description.pending_activities
    return any(
        activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        and activity.last_worker_identity.startswith(f"{worker.pid}@")
        for activity in pending
    )


async def kill_worker(
    client: Client, server: DevServer, folder: Path, when: str
) -> tuple[str, float, str]:
    """Kill the worker mid-booking, start a new one at once; how long until the new one runs
    the booking's next activity (the pause the audience sits through)."""
    ledger = BookingServices(folder / f"ledger-{when}.sqlite3")
    first = demo_worker(server, ledger.ledger_path)
    second = demo_worker(server, ledger.ledger_path)
    first.start()
    try:
        await first.wait_until_ready()
        began = time.monotonic()
        handle = await start(client, TRIP)
        if when == "during the hotel call":
            await wait_until(lambda: hotel_call_running(handle))
        else:

            async def car_booked() -> bool:
                return await step_state(handle, "car") == "booked"

            await wait_until(car_booked)
        killed = time.monotonic()
        first.kill()
        second.start()
        restarted = time.time()
        await second.wait_until_ready()
        polling = time.time() - restarted
        await wait_until(lambda: runs_an_activity(handle, second))
        picked_up = time.time()
        result = await handle.result()
        rows = ledger.reservations(handle.id)
        # The booking cannot move on before the delay it was killed in has ended.
        timers_fired = [
            event.event_time.ToDatetime(UTC).timestamp()
            async for event in handle.fetch_history_events()
            if event.HasField("timer_fired_event_attributes")
        ]
        delay_ended = max([restarted, *(fired for fired in timers_fired if fired < picked_up)])
        after_delay = (
            f" ({picked_up - delay_ended:.1f} s after the delay ended)"
            if delay_ended > restarted
            else ""
        )
        return (
            f"Durable path: worker killed {when} ({killed - began:.1f} s in)",
            time.monotonic() - began,
            f"{result.outcome}; {len(rows)} reservations for 3 services; the new worker "
            f"polled {polling:.1f} s and ran the booking {picked_up - restarted:.1f} s after "
            f"its start{after_delay}",
        )
    finally:
        first.kill()
        second.stop()


async def kill_server(folder: Path) -> tuple[str, float, str]:
    database = folder / "temporal.sqlite3"
    server = DevServer(db_filename=database)
    restarted = DevServer(port=server.port, db_filename=database)
    worker = demo_worker(server, folder / "ledger-crash.sqlite3")
    async with running(server, worker):
        client = await Client.connect(server.address)
        began = time.monotonic()
        handle = await start(client, TRIP)

        async def car_booked() -> bool:
            return await step_state(handle, "car") == "booked"

        await wait_until(car_booked)
        server.kill()
        down = time.monotonic()
        await asyncio.sleep(2)  # the presenter says a word; the server is down meanwhile
        restarted.start()
        try:
            await restarted.wait_until_ready()
            down_for = time.monotonic() - down
            result = await handle.result()
        finally:
            restarted.stop()
        return (
            f"Server crash: killed after the car, back after {down_for:.1f} s",
            time.monotonic() - began,
            result.outcome,
        )


async def fix_the_bug(folder: Path, stop: bool) -> tuple[str, float, str]:
    """The bug fixed live: a worker runs a copy of the project with the bug; once the hotel is
    at its third attempt, the marked line goes and the worker is started again: killed, as
    `kill worker` does in the launcher, or stopped, as Ctrl-C does in its own terminal."""
    project = copy_project(folder / f"project-{stop}")
    server = DevServer()
    ledger = BookingServices(folder / f"ledger-bug-{stop}.sqlite3")
    with_bug = replace(demo_worker(server, ledger.ledger_path), script=project / "run_worker.py")
    fixed = replace(with_bug)
    async with running(server, with_bug):
        client = await Client.connect(server.address)
        began = time.monotonic()
        handle = await start(client, replace(TRIP, bug_at="hotel"))

        async def hotel_at_third_attempt() -> bool:
            pending = (await handle.describe()).raw_description.pending_activities
            return any(activity.attempt >= 3 for activity in pending)

        await wait_until(hotel_at_third_attempt)
        delete_the_bug(project)
        if stop:
            with_bug.stop()
        else:
            with_bug.kill()
        restarted = time.monotonic()
        fixed.start()
        try:
            result = await handle.result()
        finally:
            fixed.stop()
        rows = ledger.reservations(handle.id)
        return (
            f"Bug fixed live: worker {'stopped' if stop else 'killed'} and started with the fix "
            f"{restarted - began:.1f} s in",
            time.monotonic() - began,
            f"{result.outcome} {time.monotonic() - restarted:.1f} s after the restart; "
            f"{len(rows)} reservations for 3 services",
        )


async def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        server = DevServer()
        worker = demo_worker(server, folder / "ledger.sqlite3")
        async with running(server, worker):
            client = await Client.connect(server.address)
            scenarios = [
                ("Happy path", TRIP),
                (
                    "Recover forward: 5 failures before success",
                    replace(TRIP, failures_before_success=5),
                ),
                ("Recover backward: Car Booking Failure", replace(TRIP, fail_at="car")),
                ("Recover backward: Hotel Booking Failure", replace(TRIP, fail_at="hotel")),
                ("Recover backward: Flight Booking Failure", replace(TRIP, fail_at="flight")),
                (
                    "Multi-failure: 5 failures and a Flight Booking Failure",
                    replace(TRIP, failures_before_success=5, fail_at="flight"),
                ),
                (
                    "Beyond the retries: 8 failures before success",
                    replace(TRIP, failures_before_success=8),
                ),
            ]
            # They run at the same time: each one is mostly timers and sleeps.
            results = await asyncio.gather(
                *(timed(label, run_to_end(client, booking)) for label, booking in scenarios),
                timed(
                    "Cancel from the UI once the hotel is booked", cancel_when_hotel_booked(client)
                ),
            )
            worker.stop()
            results.append(await kill_worker(client, server, folder, "during the hotel call"))
            results.append(await kill_worker(client, server, folder, "in the network delay"))
        results.append(await kill_server(folder))
        results.append(await fix_the_bug(folder, stop=False))
        results.append(await fix_the_bug(folder, stop=True))
    print(
        f"service latency {SERVICE_LATENCY_SECONDS:g} s, "
        f"network delay {TRIP.network_delay_seconds:g} s"
    )
    for label, seconds, outcome in results:
        print(f"{seconds:6.1f} s  {label}: {outcome}")


if __name__ == "__main__":
    asyncio.run(main())
    exit_without_finalizing(0)
