"""The workflow side of a booking's CPU, without the noise of a server: histories replayed.

python3 benchmarks/workflow_cpu.py [--replays 300] [--rounds 3]

Records one happy-path BookingWorkflow and one NoopWorkflow (three activities that do
nothing, as `benchmarks/throughput.py` runs) on an in-memory dev server, then replays each
history many times in this process, in the workflow sandbox as a worker runs it, and prints
the CPU one replay takes: a workflow run's own cost on the worker, with no server, no
activities and no other process in the measurement, so on a quiet machine the figures repeat
within a few per cent (a machine whose CPU slows now and then moves them too: run it twice).
It replays a third kind as well: the booking as it would be without its activity summaries
(the "Book car: ..." lines the Temporal UI shows), which tells what those cost.
A replay is also what a worker does to answer a query about a finished run.
A script, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, Worker

from activities import BookingActivities, ServiceSettings
from benchmarks.booking_without_summaries import BookingWithoutActivitySummaries
from benchmarks.noop_workflow import NOOP_TASK_QUEUE, NoopWorkflow, noop_step
from book_workflow import BookingWorkflow
from launcher.processes import DevServer, running
from run_worker import build_worker
from runtime.process import exit_without_finalizing
from runtime.sandbox import compile_sandboxed_modules_once
from shared import TASK_QUEUE, BookingInput, booking_summary
from simulated_services import BookingServices

TRIP = BookingInput(
    name="Bench", car="Toyota Supra", hotel="Hotel Adlon", flight="LH 404", network_delay_seconds=0
)


async def record(folder: Path, log: BinaryIO) -> dict[str, WorkflowHistory]:
    """One history of each kind, run on a dev server of its own."""
    server = DevServer(log=log)
    async with running(server):
        client = await Client.connect(server.address)
        activities = BookingActivities(
            BookingServices(folder / "ledger.sqlite3"), ServiceSettings(0)
        )
        async with (
            build_worker(client, activities),
            Worker(
                client,
                task_queue=NOOP_TASK_QUEUE,
                workflows=[NoopWorkflow],
                activities=[noop_step],
            ),
        ):
            booking = await client.start_workflow(
                BookingWorkflow.run,
                TRIP,
                id="workflow-cpu-booking",
                task_queue=TASK_QUEUE,
                static_summary=booking_summary(TRIP),
            )
            noop = await client.start_workflow(
                NoopWorkflow.run, "trip", id="workflow-cpu-noop", task_queue=NOOP_TASK_QUEUE
            )
            await booking.result()
            await noop.result()
            return {
                "booking": await booking.fetch_history(),
                "noop": await noop.fetch_history(),
            }


async def cpu_per_replay(replayer: Replayer, history: WorkflowHistory, replays: int) -> float:
    """CPU milliseconds one replay of `history` takes, over `replays` replays."""

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for _ in range(replays):
            yield history

    started = time.process_time()
    async with replayer.workflow_replay_iterator(histories()) as results:
        async for result in results:
            if result.replay_failure is not None:
                raise result.replay_failure
    return (time.process_time() - started) / replays * 1000


async def benchmark(histories: dict[str, WorkflowHistory], replays: int, rounds: int) -> None:
    kinds = {
        "booking": (Replayer(workflows=[BookingWorkflow]), histories["booking"]),
        "booking without activity summaries": (
            Replayer(workflows=[BookingWithoutActivitySummaries]),
            histories["booking"],
        ),
        "no-op": (Replayer(workflows=[NoopWorkflow]), histories["noop"]),
    }
    figures: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(rounds):  # interleaved, so a slow moment of the machine hits every kind
        for kind, (replayer, history) in kinds.items():
            await cpu_per_replay(replayer, history, 10)  # warm up
            figures[kind].append(await cpu_per_replay(replayer, history, replays))
    noop = min(figures["no-op"])
    print(f"CPU per replay, best of {rounds} rounds of {replays} replays each")
    for kind, samples in figures.items():
        print(f"{kind:<36} {min(samples):6.2f} ms  {min(samples) / noop:5.2f}x the no-op")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replays", type=int, default=300, help="replays per round and kind")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, interleaved (default: 3)")
    args = parser.parse_args(argv)
    compile_sandboxed_modules_once()  # as the worker does
    with (
        tempfile.TemporaryDirectory(prefix="workflow-cpu-") as folder,
        open(Path(folder) / "server.log", "wb") as log,
    ):
        histories = asyncio.run(record(Path(folder), log))
    asyncio.run(benchmark(histories, args.replays, args.rounds))
    return 0


if __name__ == "__main__":
    exit_without_finalizing(main())
