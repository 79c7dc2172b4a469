"""The server's own limit: a workflow that runs as many activities as a booking, doing nothing.

The benchmark runs it beside BookingWorkflow on the same server. Whatever the no-op workflow
cannot beat is the cost of Temporal itself (server, SDK, worker), not of the demo.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

NOOP_TASK_QUEUE = "noop-benchmark"
NOOP_WORKFLOW_TYPE = "NoopWorkflow"
NOOP_STEPS = ("car", "hotel", "flight")
"""One activity per booking of the happy path."""


@activity.defn
async def noop_step(step: str) -> str:
    return step


@workflow.defn(name=NOOP_WORKFLOW_TYPE)
class NoopWorkflow:
    @workflow.run
    async def run(self, trip: str) -> list[str]:
        return [
            await workflow.execute_activity(
                noop_step, step, start_to_close_timeout=timedelta(seconds=10)
            )
            for step in NOOP_STEPS
        ]
