"""How fast the web form answers: POST /book and the live page's status endpoint.

Starts its own Temporal dev server (in memory), a worker process and `run_workflow.py`, all
on free ports on 127.0.0.1, then times 200 sequential and 50 concurrent requests of each
kind and prints p50 and p99 in milliseconds; the statuses are of 50 different bookings, then
of one booking 50 times at once (a room of pages open on the presenter's booking), and last
a full room: 50 pages, each on the booking it has just made, each polling every 0.4 s as
the page's script does, for 10 s.
A script, not a test: figures on a shared 2-core machine are noisy, so compare them with
each other within one run.

python3 benchmarks/web_latency.py [--sequential 200] [--concurrent 50]
                                  [--network-delay 3] [--service-latency 1]

The defaults are the demo's: the form's 3 s network delay, the worker's 1 s per service call.
With `--network-delay 0 --service-latency 0` every booking runs flat out while the requests
are timed: the worst case for the web form, which shares 2 cores with server and worker.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import http.cookiejar
import math
import re
import secrets
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path

from launcher.processes import DevServer, WebFormProcess, WorkerProcess, wait_until_all_ready
from runtime.process import exit_without_finalizing

REQUEST_TIMEOUT_SECONDS = 10
POLL_INTERVAL_SECONDS = 0.4
"""How often a live page asks for news (static/booking.js)."""
ROOM_SECONDS = 10.0
TRIP = {
    "name": "Benchmark Traveller",
    "car": "Compact car",
    "hotel": "Hotel by the venue",
    "flight": "Round trip",
    "failures_before_success": "0",
    "fail_at": "none",
    "network_delay_seconds": "0",
    "compensation_failures": "0",
}


class FormSession:
    """One browser: its session cookie and CSRF token, as GET / hands them out."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            NoRedirect(),
        )
        with self.opener.open(f"{base_url}/", timeout=REQUEST_TIMEOUT_SECONDS) as response:
            page = response.read().decode()
        self.csrf_token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]

    def book(self) -> str:
        """POST /book with a new form; return the booking's workflow id."""
        form = {**TRIP, "csrf_token": self.csrf_token, "form_token": secrets.token_hex(16)}
        request = urllib.request.Request(
            f"{self.base_url}/book", data=urllib.parse.urlencode(form).encode(), method="POST"
        )
        try:
            self.opener.open(request, timeout=REQUEST_TIMEOUT_SECONDS)
        except urllib.error.HTTPError as answer:
            if answer.code != 303:
                raise RuntimeError(f"POST /book answered {answer.code}") from answer
            return answer.headers["Location"].rsplit("/", 1)[1]
        raise RuntimeError("POST /book did not redirect")

    def status(self, workflow_id: str) -> None:
        url = f"{self.base_url}/bookings/{workflow_id}/status"
        with self.opener.open(url, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            if response.status != 200:
                raise RuntimeError(f"status answered {response.status}")
            response.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def percentile(samples: list[float], percent: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def concurrently(calls: list[Callable[[], object]]) -> list[float]:
    """Start all calls at the same moment, one thread each; their latencies in ms."""
    latencies: list[float] = [math.nan] * len(calls)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(calls))

    def run(index: int) -> None:
        barrier.wait(timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            latencies[index] = timed(calls[index])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT_SECONDS * 3)
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(calls)} requests failed: {errors[0]}")
    return latencies


def room_of_pages(
    poll: Callable[[str], None], workflow_ids: list[str], seconds: float
) -> list[float]:
    """One page per booking, each polling every POLL_INTERVAL_SECONDS for `seconds`, all at
    once; the latencies of every poll in ms."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    ends = time.monotonic() + seconds

    def page(workflow_id: str) -> None:
        while time.monotonic() < ends:
            try:
                took = timed(partial(poll, workflow_id))
            except BaseException as error:
                errors.append(error)
                return
            latencies.append(took)
            time.sleep(max(0.0, POLL_INTERVAL_SECONDS - took / 1000))

    threads = [threading.Thread(target=page, args=(workflow_id,)) for workflow_id in workflow_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT_SECONDS * 3)
    if errors:
        raise RuntimeError(f"{len(errors)} pages failed: {errors[0]}")
    return latencies


def report(label: str, samples: list[float]) -> None:
    print(
        f"{label:<34} {len(samples):>5} {percentile(samples, 50):>9.1f} "
        f"{percentile(samples, 99):>9.1f} {max(samples):>9.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--network-delay", type=float, default=3.0, help="seconds, per booking")
    parser.add_argument(
        "--service-latency", type=float, default=1.0, help="seconds per service call, worker"
    )
    args = parser.parse_args(argv)
    TRIP["network_delay_seconds"] = str(args.network_delay)

    with tempfile.TemporaryDirectory() as folder, open(Path(folder) / "log", "wb") as log:
        server = DevServer(log=log)
        server.start()
        worker = WorkerProcess(
            address=server.address,
            ledger=Path(folder) / "ledger.sqlite3",
            service_latency_seconds=args.service_latency,
            log=log,
        )
        web = WebFormProcess(address=server.address, log=log)
        try:
            asyncio.run(server.wait_until_ready())
            worker.start()
            web.start()
            # The worker too: without one, the statuses would be measured with no query.
            asyncio.run(wait_until_all_ready([worker, web]))
            print(
                f"dev server {server.address}, worker, web form {web.url}; "
                f"network delay {args.network_delay:g} s, service latency "
                f"{args.service_latency:g} s; latencies in ms"
            )
            session = FormSession(web.url)
            for _ in range(10):  # warm up: first requests load templates, open connections
                session.status(session.book())

            print(f"{'request':<34} {'count':>5} {'p50':>9} {'p99':>9} {'max':>9}")
            booked: list[str] = []
            sequential_posts = []
            for _ in range(args.sequential):
                started = time.perf_counter()
                booked.append(session.book())
                sequential_posts.append((time.perf_counter() - started) * 1000)
            report("POST /book, sequential", sequential_posts)
            report(
                "GET status, sequential",
                [
                    timed(partial(session.status, booked[i % len(booked)]))
                    for i in range(args.sequential)
                ],
            )
            booked_at_once: list[str] = []

            def book_one() -> None:
                booked_at_once.append(session.book())

            report(
                f"POST /book, {args.concurrent} at once",
                concurrently([book_one for _ in range(args.concurrent)]),
            )
            report(
                f"GET status, {args.concurrent} at once",
                concurrently(
                    [partial(session.status, booked[-1 - i]) for i in range(args.concurrent)]
                ),
            )
            report(
                f"GET status, {args.concurrent} at once, 1 booking",
                concurrently([partial(session.status, booked[-1]) for _ in range(args.concurrent)]),
            )
            report(
                f"GET status, {len(booked_at_once)} pages, {ROOM_SECONDS:g} s",
                room_of_pages(session.status, booked_at_once, ROOM_SECONDS),
            )
        finally:
            web.stop()
            worker.stop()
            server.stop()
    return 0


if __name__ == "__main__":
    exit_without_finalizing(main())
