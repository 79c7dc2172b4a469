"""How much faster than real time the saga scenarios run on the time-skipping test server.

    .venv/bin/python benchmarks/time_skipping.py

For each scenario of the demo, with the demo's default network delay (3 s) and retry policy,
it prints the workflow's clock (first to last history event) against the wall clock.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities import BookingActivities, ServiceSettings
from book_workflow import BookingWorkflow
from launcher.processes import venv_binary
from run_worker import build_worker
from runtime.process import exit_without_finalizing
from shared import BookingInput
from simulated_services import BookingServices

TRIP = BookingInput(name="Ada", car="Toyota Supra", hotel="Hotel Adlon", flight="LH 404")
SCENARIOS = {
    "happy path": TRIP,
    "5 failures before success": replace(TRIP, failures_before_success=5),
    "car rejected": replace(TRIP, fail_at="car"),
    "hotel rejected": replace(TRIP, fail_at="hotel"),
    "flight rejected": replace(TRIP, fail_at="flight"),
    "5 failures, then flight rejected": replace(TRIP, failures_before_success=5, fail_at="flight"),
    "undos fail 3 times each": replace(TRIP, fail_at="flight", compensation_failures=3),
}


async def measure(client: Client, task_queue: str, booking: BookingInput) -> tuple[float, float]:
    started = time.perf_counter()
    handle = await client.start_workflow(
        BookingWorkflow.run, booking, id=f"bench-{uuid.uuid4().hex}", task_queue=task_queue
    )
    await handle.result()
    wall = time.perf_counter() - started
    history = await handle.fetch_history()
    first, last = history.events[0].event_time, history.events[-1].event_time
    return (last.ToDatetime() - first.ToDatetime()).total_seconds(), wall


async def main() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server")
    )
    ledger = BookingServices(Path(tempfile.mkdtemp()) / "ledger.sqlite3")
    activities = BookingActivities(ledger, ServiceSettings(service_latency_seconds=0))
    total_workflow = total_wall = 0.0
    print(f"{'scenario':36} {'workflow clock':>15} {'wall clock':>11} {'ratio':>7}")
    async with env, build_worker(env.client, activities, task_queue="bench") as _:
        for name, booking in SCENARIOS.items():
            workflow_seconds, wall_seconds = await measure(env.client, "bench", booking)
            total_workflow += workflow_seconds
            total_wall += wall_seconds
            ratio = workflow_seconds / wall_seconds
            print(f"{name:36} {workflow_seconds:13.1f} s {wall_seconds:9.2f} s {ratio:6.0f}x")
    print(
        f"{'all scenarios':36} {total_workflow:13.1f} s {total_wall:9.2f} s "
        f"{total_workflow / total_wall:6.0f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
    exit_without_finalizing(0)
