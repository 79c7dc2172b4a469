"""Bookings per second and latency, against what the same dev server does with no-op workflows.

python3 benchmarks/throughput.py [--workflows 200 500 1000] [--workers 1 2] [--rounds 2]
                                 [run_worker.py's tuning options]

Each case (a number of concurrent workflows, a number of worker processes) runs in rounds,
each on a fresh in-memory dev server. On it, the same number of BookingWorkflows (network
delay 0, service latency 0) and of NoopWorkflows (three activities that do nothing: the
server's own limit) run one after the other, each kind with its own worker processes; which
kind goes first alternates between rounds. The ratio of the two throughputs says how close
the demo comes to the limit; timings on a shared machine are noisy, so compare ratios inside
one run. Benchmarks print figures; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus

import run_worker
from benchmarks.noop_workflow import NOOP_TASK_QUEUE, NoopWorkflow
from book_workflow import BookingWorkflow
from launcher.processes import DevServer, WorkerProcess, wait_until_all_ready
from runtime.worker import WorkerTuning, tuning_from_args, tuning_parser
from shared import TASK_QUEUE, BookingInput, booking_summary
from simulated_services import BookingServices

NOOP_WORKER = Path(__file__).resolve().parent / "noop_worker.py"
STARTS_IN_FLIGHT = 50
"""Start requests the client keeps open at once, for both kinds of workflow."""


@dataclass(frozen=True)
class Measurement:
    kind: str
    workflows: int
    workers: int
    completed: int
    seconds: float
    """From the first start request to the last workflow closed."""
    latencies: list[float]
    """Each workflow's start request to its close, in seconds."""
    worker_cpu_seconds: float
    server_cpu_seconds: float
    """CPU time the worker processes and the dev server spent on this measurement."""

    @property
    def per_second(self) -> float:
        return self.completed / self.seconds

    def cpu_milliseconds(self) -> str:
        """CPU per completed workflow, worker + server: less noisy than time on a busy machine."""
        if not self.completed:
            return "-"
        worker, server = (
            1000 * cpu / self.completed
            for cpu in (self.worker_cpu_seconds, self.server_cpu_seconds)
        )
        return f"{worker:.0f}+{server:.0f}"

    def latency_percentile(self, percent: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[percent - 1]


StartOne = Callable[[Client, int], Awaitable[None]]


async def start_booking(client: Client, index: int) -> None:
    booking = BookingInput(
        name=f"Bench {index}",
        car="Toyota Supra",
        hotel="Hotel Adlon",
        flight="LH 404",
        network_delay_seconds=0,
    )
    await client.start_workflow(
        BookingWorkflow.run,
        booking,
        id=f"bench-booking-{index}",
        task_queue=TASK_QUEUE,
        static_summary=booking_summary(booking),
    )


async def start_noop(client: Client, index: int) -> None:
    await client.start_workflow(
        NoopWorkflow.run, f"trip {index}", id=f"bench-noop-{index}", task_queue=NOOP_TASK_QUEUE
    )


def cpu_seconds(process: subprocess.Popen[bytes] | None) -> float:
    """User and system CPU time of a running process so far (Linux /proc; 0 elsewhere)."""
    try:
        stat = Path(f"/proc/{process.pid if process else 0}/stat").read_text()
    except OSError:
        return 0.0
    user_ticks, system_ticks = stat.rsplit(")", 1)[1].split()[11:13]
    return (int(user_ticks) + int(system_ticks)) / os.sysconf("SC_CLK_TCK")


async def run_workflows(
    client: Client, task_queue: str, start_one: StartOne, count: int, deadline_seconds: float
) -> tuple[float, list[datetime], list[float]]:
    """Start `count` workflows, wait until none runs; return the first request and the closes."""
    requested_at: dict[str, float] = {}
    in_flight = asyncio.Semaphore(STARTS_IN_FLIGHT)
    prefix = "bench-booking-" if task_queue == TASK_QUEUE else "bench-noop-"

    async def start(index: int) -> None:
        async with in_flight:
            requested_at[f"{prefix}{index}"] = time.time()
            await start_one(client, index)

    first_request = time.time()
    await asyncio.gather(*(start(index) for index in range(count)))
    running = f'TaskQueue = "{task_queue}" AND ExecutionStatus = "Running"'
    deadline = time.monotonic() + deadline_seconds
    while (await client.count_workflows(running)).count > 0:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    closes: list[datetime] = []
    latencies: list[float] = []
    async for execution in client.list_workflows(f'TaskQueue = "{task_queue}"'):
        if execution.status == WorkflowExecutionStatus.COMPLETED and execution.close_time:
            closes.append(execution.close_time)
            latencies.append(execution.close_time.timestamp() - requested_at[execution.id])
    return first_request, closes, latencies


async def measure(
    client: Client,
    server: DevServer,
    kind: str,
    count: int,
    workers: int,
    tuning: WorkerTuning,
    ledger: Path,
) -> Measurement:
    script = NOOP_WORKER if kind == "no-op" else Path(run_worker.__file__)
    task_queue = NOOP_TASK_QUEUE if kind == "no-op" else TASK_QUEUE
    start_one = start_noop if kind == "no-op" else start_booking
    logs = [
        ledger.with_name(f"{ledger.stem}-{kind}-worker-{index}.log") for index in range(workers)
    ]
    processes = [
        WorkerProcess(
            address=server.address,
            ledger=ledger,
            task_queue=task_queue,
            extra_args=tuning.command_line(),
            script=script,
            log=log.open("wb"),
        )
        for log in logs
    ]
    try:
        for process in processes:
            process.start()
        try:
            await wait_until_all_ready(processes)
        except (RuntimeError, TimeoutError):
            for log in logs:
                print(f"--- {log.name}\n{log.read_text()[-2000:]}", file=sys.stderr)
            raise
        cpu_before = [cpu_seconds(p.process) for p in processes], cpu_seconds(server.process)
        first_request, closes, latencies = await run_workflows(
            client, task_queue, start_one, count, deadline_seconds=120 + count * 0.3
        )
        worker_cpu = sum(cpu_seconds(p.process) for p in processes) - sum(cpu_before[0])
        server_cpu = cpu_seconds(server.process) - cpu_before[1]
    finally:
        for process in processes:
            process.stop()
            if process.log is not None and not isinstance(process.log, int):
                process.log.close()
    if kind == "booking":
        with closing(BookingServices(ledger)) as services:
            booked = [r for r in services.reservations() if r.state == "booked"]
        if len(booked) != 3 * len(closes):
            raise RuntimeError(f"{len(closes)} bookings completed, {len(booked)} reservations")
    seconds = (max(closes).timestamp() - first_request) if closes else float("inf")
    return Measurement(
        kind, count, workers, len(closes), seconds, latencies, worker_cpu, server_cpu
    )


async def run_case(
    count: int, workers: int, tuning: WorkerTuning, work_dir: Path, rounds: int
) -> tuple[Measurement, Measurement]:
    """Each round runs both kinds on one fresh dev server; the first kind alternates."""
    measured: dict[str, list[Measurement]] = {"booking": [], "no-op": []}
    for round_number in range(rounds):
        kinds = ["no-op", "booking"] if round_number % 2 == 0 else ["booking", "no-op"]
        server = DevServer()
        server.start()
        try:
            await server.wait_until_ready()
            client = await Client.connect(server.address)
            for kind in kinds:
                ledger = work_dir / f"ledger-{count}-{workers}-{round_number}.sqlite3"
                measured[kind].append(
                    await measure(client, server, kind, count, workers, tuning, ledger)
                )
        finally:
            server.stop()
    return combined(measured["booking"]), combined(measured["no-op"])


def combined(rounds: list[Measurement]) -> Measurement:
    """All rounds of one kind as one measurement: total workflows over total time."""
    first = rounds[0]
    return Measurement(
        first.kind,
        first.workflows * len(rounds),
        first.workers,
        sum(m.completed for m in rounds),
        sum(m.seconds for m in rounds),
        [latency for m in rounds for latency in m.latencies],
        sum(m.worker_cpu_seconds for m in rounds),
        sum(m.server_cpu_seconds for m in rounds),
    )


COLUMNS = (
    ("workflows", 9),
    ("workers", 7),
    ("booking/s", 9),
    ("no-op/s", 7),
    ("ratio", 5),
    ("booking p50/p99 s", 17),
    ("no-op p50/p99 s", 15),
    ("booking cpu ms", 14),
    ("no-op cpu ms", 12),
)
HEADER = "  ".join(f"{title:>{width}}" for title, width in COLUMNS)
NOTES = (
    "latency: from the start request to the workflow's close, p50/p99;"
    " cpu ms: CPU per workflow, worker processes + dev server"
)


def row(count: int, booking: Measurement, noop: Measurement) -> str:
    def latencies(measurement: Measurement) -> str:
        p50, p99 = (measurement.latency_percentile(percent) for percent in (50, 99))
        return f"{p50:.2f}/{p99:.2f}"

    cells = (
        str(count),
        str(booking.workers),
        f"{booking.per_second:.1f}",
        f"{noop.per_second:.1f}",
        f"{booking.per_second / noop.per_second:.2f}",
        latencies(booking),
        latencies(noop),
        booking.cpu_milliseconds(),
        noop.cpu_milliseconds(),
    )
    line = "  ".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells, COLUMNS, strict=True))
    complete = booking.completed == booking.workflows and noop.completed == noop.workflows
    return line if complete else line + "  INCOMPLETE"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        parents=[tuning_parser()],
    )
    parser.add_argument(
        "--workflows",
        type=int,
        nargs="+",
        default=[200, 500, 1000],
        help="concurrent workflows per case (default: 200 500 1000)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="worker processes per case (default: 1 2)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="rounds per case, each on a fresh server; the kind that runs first alternates"
        " (default: 2)",
    )
    return parser.parse_args(argv)


async def benchmark(args: argparse.Namespace) -> bool:
    tuning = tuning_from_args(args)
    print(f"{os.cpu_count()} cores; worker tuning: {tuning.command_line() or 'SDK defaults'}")
    print(NOTES)
    print(HEADER, flush=True)
    complete = True
    with tempfile.TemporaryDirectory(prefix="throughput-") as work_dir:
        for workers in args.workers:
            for count in args.workflows:
                booking, noop = await run_case(count, workers, tuning, Path(work_dir), args.rounds)
                complete &= booking.completed == booking.workflows == noop.completed
                print(row(count, booking, noop), flush=True)
    return complete


def main(argv: list[str] | None = None) -> int:
    return 0 if asyncio.run(benchmark(parse_args(argv))) else 1


if __name__ == "__main__":
    sys.exit(main())
