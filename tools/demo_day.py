"""A long demo day: thousands of bookings through the web form, each watched on its live page,
and the resident memory of the worker and the form from start to end.

python3 tools/demo_day.py [--bookings 2000] [--in-flight 8] [--warm-up 200] [--seed 1]

It starts a Temporal dev server, a worker process and the form process on free ports, then
books trips through the form as a browser does: GET / for the form and its tokens, POST /book,
the booking's page, then its live view (/bookings/ID/status) every 0.4 s until the run has
finished, as the page's script does; now and then the list of recent bookings too. At most
`--in-flight` bookings run at once, a pace the dev server holds. The scenarios are the soak's
(retries, rejected bookings, failing undos). It samples the resident memory (RSS) of the
worker and the form at the start, after the warm-up bookings and at the end, and prints a
table. It exits with 1 if a booking did not finish, a page failed, or either process grew by
more than `--growth-goal` MB after the warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

import psutil

from launcher.processes import (
    DevServer,
    ManagedProcess,
    WebFormProcess,
    WorkerProcess,
    running,
)
from shared import BookingInput
from tools.form_visitor import POLL_SECONDS, FormVisitor, first_words
from tools.soak import random_scenarios

MB = 1024 * 1024
BOOKING_DEADLINE_SECONDS = 120.0
"""A booking whose page still says it runs after this long counts as unfinished."""
LIST_EVERY = 50
"""The presenter opens the list of recent bookings once every this many bookings."""


@dataclass(frozen=True)
class DemoDaySettings:
    bookings: int = 2000
    in_flight: int = 8
    warm_up: int = 200
    seed: int = 1
    growth_goal_mb: float = 50.0
    retries: bool = True
    """Scenarios with retried failures (a booking then takes seconds); without, a quick run."""
    service_latency_seconds: float = 0.05
    work_dir: Path | None = None


@dataclass(frozen=True)
class MemorySample:
    label: str
    bookings_done: int
    worker_mb: float
    form_mb: float


@dataclass
class DemoDayReport:
    settings: DemoDaySettings
    outcomes: dict[str, int] = field(default_factory=dict)
    unfinished: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    unavailable: int = 0
    samples: list[MemorySample] = field(default_factory=list)
    wall_seconds: float = 0.0
    work_dir: Path | None = None

    def sample(self, label: str) -> MemorySample:
        return next(sample for sample in self.samples if sample.label == label)

    def growth_after_warm_up(self) -> tuple[float, float]:
        """(worker, form) MB from the end of the warm-up to the end."""
        warm, end = self.sample("after warm-up"), self.sample("end")
        return end.worker_mb - warm.worker_mb, end.form_mb - warm.form_mb

    @property
    def exit_status(self) -> int:
        grown = self.growth_after_warm_up()
        within_goal = max(grown) < self.settings.growth_goal_mb
        return 0 if within_goal and not self.unfinished and not self.errors else 1

    def table(self) -> str:
        s = self.settings
        finished = sum(self.outcomes.values())
        outcomes = ", ".join(
            f"{count} {outcome}" for outcome, count in sorted(self.outcomes.items())
        )
        lines = [
            f"Demo day: {s.bookings} bookings through the form, {s.in_flight} in flight, live "
            f"pages polling every {POLL_SECONDS:g} s, seed {s.seed}"
            + ("" if s.retries else ", no retried failures"),
            f"  finished          {finished} ({outcomes or 'none'})",
            f"  unfinished        {len(self.unfinished)}",
            f"  failed requests   {len(self.errors)} of {self.requests}",
            f"  answered 503      {self.unavailable} (Temporal slower than 2 s; asked again)",
            f"  wall time         {self.wall_seconds:.1f} s",
            "  resident memory (MB)  bookings done  worker   form",
        ]
        lines += [
            f"    {sample.label:<19} {sample.bookings_done:>13}  {sample.worker_mb:>6.1f} "
            f"{sample.form_mb:>6.1f}"
            for sample in self.samples
        ]
        worker, form = self.growth_after_warm_up()
        lines.append(
            f"  growth after warm-up: worker {worker:+.1f} MB, form {form:+.1f} MB "
            f"(goal: under {s.growth_goal_mb:g} MB each)"
        )
        return "\n".join(lines)


def resident_mb(process: ManagedProcess) -> float:
    assert process.pid is not None
    return psutil.Process(process.pid).memory_info().rss / MB


async def run_demo_day(settings: DemoDaySettings, out: TextIO = sys.stdout) -> DemoDayReport:
    """The whole day; the processes it starts are gone afterwards."""
    began = time.monotonic()
    work_dir = Path(tempfile.mkdtemp(prefix="demo-day-", dir=settings.work_dir))
    report = DemoDayReport(settings, work_dir=work_dir)
    bookings = [scenario.booking for scenario in random_scenarios(settings.bookings, settings.seed)]
    if not settings.retries:
        bookings = [
            replace(booking, failures_before_success=0, compensation_failures=0)
            for booking in bookings
        ]

    def say(line: str) -> None:
        print(f"[{time.monotonic() - began:6.1f} s] {line}", file=out, flush=True)

    with ExitStack() as logs:
        server = DevServer(log=logs.enter_context((work_dir / "server.log").open("ab")))
        worker = WorkerProcess(
            address=server.address,
            ledger=work_dir / "ledger.sqlite3",
            service_latency_seconds=settings.service_latency_seconds,
            log=logs.enter_context((work_dir / "worker.log").open("ab")),
        )
        form = WebFormProcess(
            address=server.address, log=logs.enter_context((work_dir / "form.log").open("ab"))
        )

        def sample(label: str, done: int) -> None:
            taken = MemorySample(label, done, resident_mb(worker), resident_mb(form))
            report.samples.append(taken)
            say(
                f"{label}: {done} bookings done; worker {taken.worker_mb:.1f} MB, "
                f"form {taken.form_mb:.1f} MB"
            )

        # The worker and the form start side by side, and stop so: neither needs the other.
        async with running(server), running(worker, form, side_by_side=True):
            say(f"server, worker and form up; {len(bookings)} bookings to make")
            visitor = FormVisitor(form.url)
            visitor.fetch("/")  # the session starts before the bookings share it
            sample("start", 0)
            await asyncio.to_thread(_book_all, visitor, bookings, settings, report, sample)
            sample("end", len(bookings))
            report.requests, report.unavailable = visitor.requests, visitor.unavailable
    report.wall_seconds = time.monotonic() - began
    return report


def _book_all(
    visitor: FormVisitor,
    bookings: list[BookingInput],
    settings: DemoDaySettings,
    report: DemoDayReport,
    sample: Callable[[str, int], None],
) -> None:
    def one(booking: BookingInput) -> tuple[str, str | None]:
        workflow_id = visitor.book(booking)
        return workflow_id, visitor.watch(workflow_id, BOOKING_DEADLINE_SECONDS)

    checkpoints = {settings.bookings * step // 10 for step in range(1, 10)}
    with ThreadPoolExecutor(settings.in_flight, thread_name_prefix="visitor") as pool:
        futures = [pool.submit(one, booking) for booking in bookings]
        for done, future in enumerate(as_completed(futures), start=1):
            try:
                workflow_id, outcome = future.result()
            except (OSError, RuntimeError, ValueError, KeyError) as error:
                report.errors.append(f"{type(error).__name__}: {error}")
            else:
                if outcome is None:
                    report.unfinished.append(workflow_id)
                else:
                    report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
            if done == settings.warm_up:
                sample("after warm-up", done)
            elif done in checkpoints and done != settings.bookings:
                sample(f"after {done}", done)
            if done % LIST_EVERY == 0:
                status, page, _ = visitor.fetch("/bookings")
                if status != 200:
                    report.errors.append(f"GET /bookings answered {status}: {first_words(page)}")


def parse_args(argv: list[str] | None = None) -> DemoDaySettings:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="The exit status is 0 only if every booking finished, every page answered and "
        "neither process grew by the goal or more after the warm-up.",
    )
    defaults = DemoDaySettings()
    parser.add_argument("--bookings", type=int, default=defaults.bookings, help="default 2000")
    parser.add_argument(
        "--in-flight", type=int, default=defaults.in_flight, help="bookings at once (default 8)"
    )
    parser.add_argument(
        "--warm-up",
        type=int,
        default=defaults.warm_up,
        help="bookings done before the second memory sample (default 200)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="default 1")
    parser.add_argument(
        "--growth-goal",
        type=float,
        default=defaults.growth_goal_mb,
        metavar="MB",
        help="most growth after the warm-up, per process (default 50)",
    )
    parser.add_argument(
        "--no-retries",
        action="store_true",
        help="no retried failures in the scenarios, so each booking takes a moment (quick run)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="folder for a new run folder with the logs and the ledger (default: temp folder)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.warm_up < args.bookings or args.in_flight < 1:
        parser.error("need 1 <= --warm-up < --bookings and --in-flight >= 1")
    return DemoDaySettings(
        bookings=args.bookings,
        in_flight=args.in_flight,
        warm_up=args.warm_up,
        seed=args.seed,
        growth_goal_mb=args.growth_goal,
        retries=not args.no_retries,
        work_dir=args.work_dir,
    )


def main(argv: list[str] | None = None) -> int:
    report = asyncio.run(run_demo_day(parse_args(argv)))
    print(report.table())
    for problem in (report.errors + [f"unfinished: {id}" for id in report.unfinished])[:20]:
        print(f"  ! {problem}")
    if report.exit_status == 0 and report.work_dir is not None:
        shutil.rmtree(report.work_dir, ignore_errors=True)
    else:
        print(f"Logs kept in {report.work_dir}")
    return report.exit_status


if __name__ == "__main__":
    sys.exit(main())
