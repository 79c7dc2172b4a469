"""Soak: many bookings with random faults, a worker and the server killed mid-run, then an audit.

python3 tools/soak.py [--bookings 500] [--workers 2] [--seed 1] [--freeze 15] [--deadline 900]

It starts a Temporal dev server that keeps its data in a file, worker processes that share
one ledger and the web form, starts the bookings (each with its own scenario: failures before
success, a rejected booking or none, failing undos, no network delay), kills a worker with
SIGKILL and starts it again, kills the server and starts it again on the same port and file,
then freezes the server (SIGSTOP: a network partition, or a long pause) and resumes it
(SIGCONT). While the server is frozen the form must answer within 5 s with its clear page,
and afterwards it must recover on its own. The tool waits (up to the deadline) for every
booking to end, and audits each one against the ledger: all three reservations booked or
none, as its scenario asked; nothing duplicated; nothing stuck. It prints a table and exits
with 1 if any booking broke the promise, or the form did not answer or recover.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal, TextIO

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from book_workflow import BookingWorkflow
from launcher.processes import DevServer, WebFormProcess, WorkerProcess, wait_until_all_ready
from shared import (
    FAIL_AT_CHOICES,
    SERVICES,
    TASK_QUEUE,
    BookingInput,
    BookingResult,
    Outcome,
    Service,
    booking_summary,
)
from simulated_services import BookingServices, Reservation
from tools.form_visitor import FormVisitor, first_words

CARS = ("Toyota Supra", "VW Golf", "Tesla Model 3", "Fiat 500")
HOTELS = ("Hotel Adlon", "Ritz Paris", "Hotel Sacher", "Pension Sonne")
FLIGHTS = ("LH 404", "AF 1234", "BA 2490", "OS 111")
STARTS_IN_FLIGHT = 50
RESULTS_IN_FLIGHT = 20
FORM_ANSWERS_WITHIN_SECONDS = 5.0
"""What the form promises while the server is frozen: its clear page within this long."""
FORM_RECOVERS_WITHIN_SECONDS = 30.0


@dataclass(frozen=True)
class Scenario:
    """One booking of the soak and what it asks the services to do."""

    workflow_id: str
    booking: BookingInput

    @property
    def expected_outcome(self) -> Outcome:
        return "booked" if self.booking.fail_at == "none" else "rolled_back"

    @property
    def attempted(self) -> tuple[Service, ...]:
        """The services the saga calls: all three, or up to the one that rejects it."""
        if self.booking.fail_at == "none":
            return SERVICES
        return SERVICES[: SERVICES.index(self.booking.fail_at) + 1]

    @property
    def injected_faults(self) -> int:
        """Failures the services raise on purpose: retried ones, a rejection, failed undos."""
        faults = len(self.attempted) * self.booking.failures_before_success
        if self.booking.fail_at != "none":
            faults += 1 + len(self.attempted) * self.booking.compensation_failures
        return faults


MOST_FAILURES_BEFORE_SUCCESS = 3
"""Each booking step of a scenario fails up to this many times before Temporal's retry gets
through; with the workflow's backoff, the slowest bookings take 1 + 1.5 + 2 s more per step."""
MOST_UNDO_FAILURES = 2
"""Each undo of a rolled-back scenario fails up to this many times before it succeeds."""


def random_scenarios(
    count: int,
    seed: int,
    most_failures_before_success: int = MOST_FAILURES_BEFORE_SUCCESS,
    most_undo_failures: int = MOST_UNDO_FAILURES,
) -> list[Scenario]:
    """The same seed gives the same scenarios, so a failing run can be repeated."""
    rng = random.Random(seed)
    return [
        Scenario(
            workflow_id=f"soak-{seed}-{index:04d}",
            booking=BookingInput(
                name=f"Traveller {index}",
                car=rng.choice(CARS),
                hotel=rng.choice(HOTELS),
                flight=rng.choice(FLIGHTS),
                failures_before_success=rng.randint(0, most_failures_before_success),
                fail_at=rng.choice(FAIL_AT_CHOICES),
                network_delay_seconds=0,
                compensation_failures=rng.randint(0, most_undo_failures),
                parallel_compensation=rng.random() < 0.5,
            ),
        )
        for index in range(count)
    ]


Verdict = Literal["booked", "rolled_back", "partial", "stuck", "not_completed", "wrong_outcome"]


@dataclass(frozen=True)
class Audit:
    """What one booking's workflow and ledger rows say, checked against its scenario."""

    verdict: Verdict
    duplicates: int = 0
    problem: str | None = None


def audit_booking(
    scenario: Scenario,
    status: WorkflowExecutionStatus | None,
    result: BookingResult | None,
    rows: list[Reservation],
) -> Audit:
    """Judge one booking; `status` None means the server never answered for it."""
    per_service = Counter(row.service for row in rows)
    duplicates = sum(count - 1 for count in per_service.values())
    booked = {row.service: row for row in rows if row.state == "booked"}
    name = scenario.workflow_id

    def audit(verdict: Verdict, problem: str | None = None) -> Audit:
        if duplicates and problem is None:
            problem = f"{name}: {duplicates} duplicated reservation(s)"
        return Audit(verdict, duplicates, problem)

    if status is None or status == WorkflowExecutionStatus.RUNNING:
        return audit("stuck", f"{name}: still running at the deadline")
    if 0 < len(booked) < len(SERVICES):
        return audit("partial", f"{name}: only {', '.join(sorted(booked))} booked")
    if status != WorkflowExecutionStatus.COMPLETED or result is None:
        return audit("not_completed", f"{name}: workflow ended {status.name}")
    problem = _wrong_outcome(scenario, result, booked, rows)
    if problem is not None:
        return audit("wrong_outcome", f"{name}: {problem}")
    return audit("booked" if result.outcome == "booked" else "rolled_back")


def _wrong_outcome(
    scenario: Scenario,
    result: BookingResult,
    booked: dict[str, Reservation],
    rows: list[Reservation],
) -> str | None:
    if result.outcome != scenario.expected_outcome:
        return f"{result.outcome}, but fail_at={scenario.booking.fail_at} asked for it to be " + (
            scenario.expected_outcome
        )
    if result.outcome == "booked":
        ledger = {service: row.confirmation for service, row in booked.items()}
        if result.booked != ledger or result.undone:
            return (
                f"booked {result.booked} and undone {result.undone}, but the ledger holds {ledger}"
            )
        return None
    if booked:
        return f"rolled back, but the ledger still holds {sorted(booked)}"
    if result.booked:
        return f"rolled back, but the result names {sorted(result.booked)} as booked"
    with_rows = {row.service for row in rows}
    if with_rows != set(scenario.attempted):
        return f"undo rows for {sorted(with_rows)}, expected {sorted(scenario.attempted)}"
    # A row with no confirmation is an undo that found nothing to cancel.
    cancelled = {row.service: row.confirmation for row in rows if row.confirmation}
    if result.undone != cancelled:
        return f"undone {result.undone}, but the ledger cancelled {cancelled}"
    expected_undos = [f"undo_book_{service}" for service in reversed(scenario.attempted)]
    ran = result.compensations
    if scenario.booking.parallel_compensation:
        ran, expected_undos = sorted(ran), sorted(expected_undos)
    if ran != expected_undos:
        return f"compensations {result.compensations}, expected {expected_undos}"
    return None


@dataclass(frozen=True)
class SoakSettings:
    bookings: int = 500
    workers: int = 2
    seed: int = 1
    deadline_seconds: float = 900.0
    """From the start of the run; a booking still running then is stuck."""
    service_latency_seconds: float = 0.05
    """Every other worker takes this long per service call; the others take no time."""
    freeze_seconds: float = 15.0
    """How long the dev server stays frozen (SIGSTOP) in the middle of the run."""
    most_failures_before_success: int = MOST_FAILURES_BEFORE_SUCCESS
    most_undo_failures: int = MOST_UNDO_FAILURES
    workflow_task_timeout_seconds: float = 10.0
    """A workflow task that the killed worker had taken is offered again after this long
    (Temporal's default, which the form keeps: 10 s)."""
    work_dir: Path | None = None
    """Where the server's and the ledger's files and the logs go (default: a new temp folder)."""

    def scenarios(self) -> list[Scenario]:
        """The bookings this run makes, and what each is asked to survive."""
        return random_scenarios(
            self.bookings, self.seed, self.most_failures_before_success, self.most_undo_failures
        )


@dataclass
class Partition:
    """The dev server frozen mid-run, and what the form answered meanwhile and after."""

    frozen_seconds: float
    running: int
    """Bookings running when the server froze."""
    form_status: int | None = None
    form_message: str = ""
    form_answer_seconds: float | None = None
    """How long the form took to answer while the server was frozen."""
    form_recovered_seconds: float | None = None
    """From SIGCONT until the form answered 200 again; None if it did not."""

    def fault(self) -> str:
        return f"server SIGSTOP {self.frozen_seconds:.0f} s, {self.running} running"

    def form(self) -> str:
        recovered = (
            "not again"
            if self.form_recovered_seconds is None
            else f"{self.form_recovered_seconds:.1f} s after SIGCONT"
        )
        return f"{self.form_status} in {self.form_answer_seconds or 0:.1f} s; 200 again {recovered}"

    def problems(self) -> list[str]:
        found = []
        answered = self.form_answer_seconds
        if self.form_status != 503 or answered is None or answered >= FORM_ANSWERS_WITHIN_SECONDS:
            found.append(f"while the server was frozen the form answered {self.form()}")
        if self.form_recovered_seconds is None:
            found.append(
                f"the form did not answer 200 within {FORM_RECOVERS_WITHIN_SECONDS:g} s "
                "after the server resumed"
            )
        return found


@dataclass
class SoakReport:
    settings: SoakSettings
    audits: dict[str, Audit] = field(default_factory=dict)
    scenario_faults: int = 0
    kills: list[tuple[str, int]] = field(default_factory=list)
    """Each process killed with SIGKILL, and how many bookings were running at that moment."""
    wall_seconds: float = 0.0
    work_dir: Path | None = None
    crashed_workers: list[str] = field(default_factory=list)
    """Worker processes that exited on their own: they must survive a server restart."""
    partition: Partition | None = None

    def count(self, verdict: Verdict) -> int:
        return sum(1 for audit in self.audits.values() if audit.verdict == verdict)

    @property
    def duplicates(self) -> int:
        return sum(audit.duplicates for audit in self.audits.values())

    @property
    def problems(self) -> list[str]:
        audits = [audit.problem for audit in self.audits.values() if audit.problem is not None]
        form = [] if self.partition is None else self.partition.problems()
        return audits + self.crashed_workers + form

    @property
    def exit_status(self) -> int:
        """0 only if every booking ended all or nothing, as its scenario asked."""
        return 0 if not self.problems and len(self.audits) == self.settings.bookings else 1

    def table(self) -> str:
        rows = [
            ("bookings", str(len(self.audits))),
            ("booked", str(self.count("booked"))),
            ("rolled back", str(self.count("rolled_back"))),
            (
                "faults injected",
                f"{self.scenario_faults + len(self.kills) + (self.partition is not None)}"
                f"  ({self.scenario_faults} by the scenarios; "
                + "; ".join(
                    [f"{process} SIGKILL, {running} running" for process, running in self.kills]
                    + ([self.partition.fault()] if self.partition else [])
                )
                + ")",
            ),
            *([("form while frozen", self.partition.form())] if self.partition else []),
            ("partial bookings", str(self.count("partial"))),
            ("duplicates", str(self.duplicates)),
            ("stuck", str(self.count("stuck"))),
            ("not completed", str(self.count("not_completed"))),
            ("wrong outcome", str(self.count("wrong_outcome"))),
            ("wall time", f"{self.wall_seconds:.1f} s"),
        ]
        settings = self.settings
        title = (
            f"Soak: {settings.bookings} bookings, {settings.workers} workers, seed {settings.seed}"
        )
        return "\n".join([title] + [f"  {label:<17} {value}" for label, value in rows])


async def run_soak(settings: SoakSettings, out: TextIO = sys.stdout) -> SoakReport:
    """Run the whole soak and return its audit; the processes it starts are gone afterwards."""
    began = time.monotonic()
    deadline = began + settings.deadline_seconds
    work_dir = Path(tempfile.mkdtemp(prefix="soak-", dir=settings.work_dir))
    scenarios = settings.scenarios()
    report = SoakReport(settings, scenario_faults=sum(s.injected_faults for s in scenarios))
    report.work_dir = work_dir
    ledger = work_dir / "ledger.sqlite3"
    with ExitStack() as cleanup:
        server = DevServer(
            db_filename=work_dir / "temporal.sqlite3",
            log=cleanup.enter_context((work_dir / "server.log").open("ab")),
        )
        workers = [
            WorkerProcess(
                address=server.address,
                ledger=ledger,
                service_latency_seconds=settings.service_latency_seconds if index % 2 else 0.0,
                log=cleanup.enter_context((work_dir / f"worker-{index}.log").open("ab")),
            )
            for index in range(settings.workers)
        ]
        form = WebFormProcess(
            address=server.address, log=cleanup.enter_context((work_dir / "form.log").open("ab"))
        )
        cleanup.callback(server.stop)
        for process in [*workers, form]:
            cleanup.callback(process.stop)

        def say(line: str) -> None:
            print(f"[{time.monotonic() - began:6.1f} s] {line}", file=out, flush=True)

        server.start()
        await server.wait_until_ready()
        client = await Client.connect(server.address)
        for process in [*workers, form]:
            process.start()
        await wait_until_all_ready([*workers, form])
        say(f"server, {settings.workers} workers and form up; starting {len(scenarios)} bookings")
        await _start_all(
            client, scenarios, timedelta(seconds=settings.workflow_task_timeout_seconds)
        )

        running = await _running_after(client, len(scenarios), len(scenarios) // 10, deadline)
        workers[0].kill()
        report.kills.append(("worker", running))
        say(f"killed worker 0 with SIGKILL ({running} bookings running)")
        await asyncio.sleep(1)
        workers[0].start()

        running = await _running_after(client, len(scenarios), len(scenarios) * 3 // 10, deadline)
        say(f"freezing the dev server with SIGSTOP for {settings.freeze_seconds:g} s")
        report.partition = await _freeze(server, form, settings.freeze_seconds, running)
        say(f"dev server resumed (SIGCONT); the form: {report.partition.form()}")
        say(f"the form's page while frozen: {report.partition.form_message}")

        running = await _running_after(client, len(scenarios), len(scenarios) * 6 // 10, deadline)
        server.kill()
        report.kills.append(("server", running))
        say(f"killed the dev server with SIGKILL ({running} bookings running)")
        server.start()
        await server.wait_until_ready()
        say("dev server back on the same port and data file")

        statuses = await _wait_until_closed(client, scenarios, deadline)
        report.crashed_workers = [
            f"worker {index} exited with {worker.process.returncode}"
            for index, worker in enumerate(workers)
            if worker.process is not None and worker.process.poll() is not None
        ]
        say("auditing every booking against the ledger")
        results = await _results(client, statuses)
        services = BookingServices(ledger)
        cleanup.callback(services.close)
        rows = _rows_by_workflow(services.reservations())
        for scenario in scenarios:
            report.audits[scenario.workflow_id] = audit_booking(
                scenario,
                statuses.get(scenario.workflow_id),
                results.get(scenario.workflow_id),
                rows.pop(scenario.workflow_id, []),
            )
        for stray in rows:
            report.audits[stray] = Audit("wrong_outcome", problem=f"{stray}: no such booking")
    report.wall_seconds = time.monotonic() - began
    return report


async def _freeze(
    server: DevServer, form: WebFormProcess, seconds: float, running: int
) -> Partition:
    """Freeze the server for `seconds` (at least as long as the form takes to answer), ask the
    form for a booking's page meanwhile, then resume the server and wait for the form to
    answer that page again."""
    assert server.process is not None
    partition = Partition(seconds, running)
    page = FormVisitor(form.url)
    # Any booking's page: even a finished one's is checked with the server on each view.
    path = f"/bookings/{await _any_booking(page)}"
    os.kill(server.process.pid, signal.SIGSTOP)
    frozen = time.monotonic()
    try:
        partition.form_status, partition.form_message = await _ask(page, path)
        partition.form_answer_seconds = time.monotonic() - frozen
        await asyncio.sleep(seconds - (time.monotonic() - frozen))
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    resumed = time.monotonic()
    partition.frozen_seconds = resumed - frozen
    while time.monotonic() - resumed < FORM_RECOVERS_WITHIN_SECONDS:
        if (await _ask(page, path))[0] == 200:
            partition.form_recovered_seconds = time.monotonic() - resumed
            break
        await asyncio.sleep(0.2)
    return partition


async def _any_booking(page: FormVisitor) -> str:
    status, listing, _ = await asyncio.to_thread(page.fetch, "/bookings")
    found = re.search(r'href="/bookings/([^"/]+)"', listing)
    if status != 200 or found is None:
        raise RuntimeError(f"the form lists no booking (GET /bookings answered {status})")
    return found.group(1)


async def _ask(page: FormVisitor, path: str) -> tuple[int | None, str]:
    """The form's answer to GET `path`: its status and what it says, or None and why not."""
    try:
        status, body, _ = await asyncio.to_thread(page.fetch, path)
    except OSError as error:
        return None, str(error)
    return status, first_words(body)


async def _start_all(
    client: Client, scenarios: list[Scenario], workflow_task_timeout: timedelta
) -> None:
    in_flight = asyncio.Semaphore(STARTS_IN_FLIGHT)

    async def start(scenario: Scenario) -> None:
        async with in_flight:
            await client.start_workflow(
                BookingWorkflow.run,
                scenario.booking,
                id=scenario.workflow_id,
                task_queue=TASK_QUEUE,
                static_summary=booking_summary(scenario.booking),
                task_timeout=workflow_task_timeout,
            )

    await asyncio.gather(*(start(scenario) for scenario in scenarios))


async def _count_running(client: Client) -> int | None:
    """Bookings the server lists as running; None while it does not answer (it is down)."""
    try:
        return (await client.count_workflows('ExecutionStatus = "Running"')).count
    except RPCError:
        return None


async def _running_after(client: Client, total: int, closed: int, deadline: float) -> int:
    """Wait until `closed` of `total` bookings have ended (at most 30 s); return how many run."""
    give_up = min(deadline, time.monotonic() + 30)
    while True:
        running = await _count_running(client)
        if running is not None and (total - running >= closed or time.monotonic() > give_up):
            return running
        await asyncio.sleep(0.2)


async def _wait_until_closed(
    client: Client, scenarios: list[Scenario], deadline: float
) -> dict[str, WorkflowExecutionStatus]:
    """Each booking's status from the server itself, once none runs or at the deadline."""
    while time.monotonic() < deadline:
        if await _count_running(client) == 0:
            break
        await asyncio.sleep(0.5)
    statuses: dict[str, WorkflowExecutionStatus] = {}
    pending = [scenario.workflow_id for scenario in scenarios]
    # The list of workflows may lag behind; describe reads each workflow's own record.
    while pending:
        described = await asyncio.gather(*(_status(client, id) for id in pending))
        statuses.update({id: s for id, s in zip(pending, described, strict=True) if s})
        pending = [id for id in pending if statuses.get(id) in (None, _RUNNING)]
        if not pending or time.monotonic() > deadline:
            return statuses
        await asyncio.sleep(1)
    return statuses


_RUNNING = WorkflowExecutionStatus.RUNNING


async def _status(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    try:
        return (await client.get_workflow_handle(workflow_id).describe()).status
    except RPCError:
        return None


async def _results(
    client: Client, statuses: dict[str, WorkflowExecutionStatus]
) -> dict[str, BookingResult]:
    in_flight = asyncio.Semaphore(RESULTS_IN_FLIGHT)

    async def result(workflow_id: str) -> BookingResult:
        async with in_flight:
            handle = client.get_workflow_handle_for(BookingWorkflow.run, workflow_id)
            return await handle.result()

    completed = [id for id, s in statuses.items() if s == WorkflowExecutionStatus.COMPLETED]
    return dict(zip(completed, await asyncio.gather(*map(result, completed)), strict=True))


def _rows_by_workflow(rows: Iterable[Reservation]) -> dict[str, list[Reservation]]:
    by_workflow: dict[str, list[Reservation]] = {}
    for row in rows:
        by_workflow.setdefault(row.workflow_id, []).append(row)
    return by_workflow


def parse_args(argv: list[str] | None = None) -> SoakSettings:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="The exit status is 0 only if every booking ended all or nothing, as asked.",
    )
    defaults = SoakSettings()
    parser.add_argument("--bookings", type=int, default=defaults.bookings, help="default 500")
    parser.add_argument("--workers", type=int, default=defaults.workers, help="default 2")
    parser.add_argument(
        "--seed", type=int, default=defaults.seed, help="chooses the scenarios (default 1)"
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=defaults.deadline_seconds,
        help="seconds the whole run may take; a booking still running then is stuck (default 900)",
    )
    parser.add_argument(
        "--freeze",
        type=float,
        default=defaults.freeze_seconds,
        metavar="SECONDS",
        help="how long the dev server stays frozen (SIGSTOP) mid-run (default 15)",
    )
    parser.add_argument(
        "--service-latency",
        type=float,
        default=defaults.service_latency_seconds,
        help="seconds per service call in every other worker (default 0.05)",
    )
    parser.add_argument(
        "--most-failures",
        type=int,
        default=defaults.most_failures_before_success,
        metavar="N",
        help="failures before success per booking step, drawn from 0..N (default 3)",
    )
    parser.add_argument(
        "--most-undo-failures",
        type=int,
        default=defaults.most_undo_failures,
        metavar="N",
        help="failures per undo before it succeeds, drawn from 0..N (default 2)",
    )
    parser.add_argument(
        "--workflow-task-timeout",
        type=float,
        default=defaults.workflow_task_timeout_seconds,
        metavar="SECONDS",
        help="after how long a workflow task lost with a killed worker is offered again "
        "(default 10, Temporal's and the form's)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="folder for a new run folder with the data files and logs (default: the temp folder)",
    )
    args = parser.parse_args(argv)
    if args.bookings < 1 or args.workers < 1:
        parser.error("--bookings and --workers must be at least 1")
    if args.most_failures < 0 or args.most_undo_failures < 0:
        parser.error("--most-failures and --most-undo-failures must be at least 0")
    if not 1 <= args.workflow_task_timeout <= 120:
        parser.error("--workflow-task-timeout must be from 1 to 120 seconds")
    return SoakSettings(
        bookings=args.bookings,
        workers=args.workers,
        seed=args.seed,
        deadline_seconds=args.deadline,
        service_latency_seconds=args.service_latency,
        freeze_seconds=args.freeze,
        most_failures_before_success=args.most_failures,
        most_undo_failures=args.most_undo_failures,
        workflow_task_timeout_seconds=args.workflow_task_timeout,
        work_dir=args.work_dir,
    )


def main(argv: list[str] | None = None) -> int:
    report = asyncio.run(run_soak(parse_args(argv)))
    print(report.table())
    if report.exit_status == 0:
        if report.work_dir is not None:
            shutil.rmtree(report.work_dir, ignore_errors=True)
        return 0
    for problem in report.problems[:20]:
        print(f"  ! {problem}")
    print(f"Logs and data files kept in {report.work_dir}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
