"""Seconds from the demo command until the form, the Web UI and the Temporal server all answer.

    .venv/bin/python benchmarks/demo_startup.py [--runs 5] [--via-make]

Each run starts the launcher (installed already) on free ports, polls the three addresses from
outside until each answers, notes when the launcher says it is ready (the worker polls too),
then presses Ctrl-C and times the shutdown. Without run_workflow.py it measures the server and
the worker only, and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable

import psutil
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from launcher.options import DemoPorts
from launcher.processes import answers_200
from runtime import PROJECT_DIR
from runtime.process import exit_without_finalizing

# This checkout, whichever one the installed modules come from.
GIVE_UP_AFTER_SECONDS = 60.0


async def frontend_answers(address: str) -> bool:
    try:
        client = await Client.connect(address)
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace="default")
        )
        return True
    except Exception:
        return False


def http_answers(url: str) -> Callable[[], Awaitable[bool]]:
    return lambda: asyncio.to_thread(answers_200, url)


async def seconds_until(check: Callable[[], Awaitable[bool]], began: float) -> float:
    deadline = began + GIVE_UP_AFTER_SECONDS
    while time.monotonic() < deadline:
        if await check():
            return time.monotonic() - began
        await asyncio.sleep(0.02)
    raise TimeoutError("the demo did not answer within a minute")


def start(command: list[str]) -> subprocess.Popen[bytes]:
    """In its own process group, as a terminal runs it, so a SIGINT to the group is Ctrl-C."""
    return subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def one_run(via_make: bool, folder: str) -> dict[str, float]:
    ports = DemoPorts.free()
    options = [*ports.options(), "--ledger", f"{folder}/ledger.sqlite3"]
    if via_make:
        command = ["make", "--no-print-directory", "demo", "ARGS=" + " ".join(options)]
    else:
        command = [sys.executable, str(PROJECT_DIR / "run_demo.py"), *options]

    began = time.monotonic()
    launcher = start(command)
    said_ready = threading.Event()
    ready_at: list[float] = []

    def watch_output() -> None:
        assert launcher.stdout is not None
        for line in iter(launcher.stdout.readline, b""):
            if b"Ready in" in line and not ready_at:
                ready_at.append(time.monotonic() - began)
                said_ready.set()

    threading.Thread(target=watch_output, daemon=True).start()
    try:
        address = f"127.0.0.1:{ports.server}"
        checks = {
            "server": seconds_until(lambda: frontend_answers(address), began),
            "ui": seconds_until(http_answers(f"http://127.0.0.1:{ports.ui}/"), began),
            "form": seconds_until(http_answers(f"http://127.0.0.1:{ports.form}/"), began),
        }
        seconds = dict(zip(checks, await asyncio.gather(*checks.values()), strict=True))
        seconds["all answer"] = max(seconds.values())
        if not await asyncio.to_thread(said_ready.wait, GIVE_UP_AFTER_SECONDS):
            raise TimeoutError("the launcher never said it was ready")
        seconds["launcher ready"] = ready_at[0]
        children = psutil.Process(launcher.pid).children(recursive=True)

        stop_began = time.monotonic()
        os.killpg(launcher.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
        launcher.wait(30)
        seconds["Ctrl-C to exit"] = time.monotonic() - stop_began
        seconds["left running"] = sum(1 for child in children if child.is_running())
        return seconds
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--via-make", action="store_true", help="time `make demo` instead")
    args = parser.parse_args()
    command = "make demo" if args.via_make else "python run_demo.py"
    print(f"{command}: seconds until the form, Web UI and server answer; {args.runs} runs")
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for number in range(1, args.runs + 1):
            seconds = await one_run(args.via_make, folder)
            runs.append(seconds)
            print(
                f"run {number}: "
                + ", ".join(f"{key} {value:.2f}" for key, value in seconds.items())
            )
    for key in runs[0]:
        values = [run[key] for run in runs]
        median = statistics.median(values)
        print(f"median {key}: {median:.2f} (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    asyncio.run(main())
    exit_without_finalizing(0)
