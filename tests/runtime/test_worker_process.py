"""`python3 run_worker.py` as the presenter runs it, against a real dev server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from launcher.processes import DevServer, WorkerProcess, venv_binary
from runtime import PROJECT_DIR
from shared import TASK_QUEUE

pytestmark = pytest.mark.real_server


def test_without_a_server_the_worker_says_so_in_one_line() -> None:
    # A port bound but not listening refuses connections, and nobody else can take it meanwhile.
    with socket.socket() as closed_port:
        closed_port.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{closed_port.getsockname()[1]}"
        finished = subprocess.run(
            [sys.executable, str(PROJECT_DIR / "run_worker.py")],
            env={"TEMPORAL_ADDRESS": address, "PATH": ""},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert finished.returncode == 1, (finished.stdout, finished.stderr)
    assert finished.stderr.count("\n") == 1, finished.stderr
    assert f"Cannot reach the Temporal server at {address}" in finished.stderr
    assert "temporal server start-dev --ui-port 8080" in finished.stderr


WorkerStarter = Callable[..., Awaitable[tuple[WorkerProcess, Path]]]


@pytest.fixture
def start_worker(dev_server: DevServer, tmp_path: Path) -> Iterator[WorkerStarter]:
    """Start a worker process and return once it says it polls its task queue; every worker
    started is stopped when the test ends, also when it fails."""
    started: list[WorkerProcess] = []
    with contextlib.ExitStack() as logs:

        async def start(script: Path = PROJECT_DIR / "run_worker.py") -> tuple[WorkerProcess, Path]:
            log_path = tmp_path / f"worker-{len(started)}.log"
            worker = WorkerProcess(
                address=dev_server.address,
                ledger=tmp_path / "ledger.sqlite3",
                script=script,
                log=logs.enter_context(log_path.open("wb")),
            )
            started.append(worker)
            worker.start()
            async with asyncio.timeout(30):
                while "Worker polling task queue" not in log_path.read_text():
                    assert worker.process is not None
                    assert worker.process.poll() is None, log_path.read_text()
                    await asyncio.sleep(0.05)
            return worker, log_path

        try:
            yield start
        finally:
            for worker in started:
                worker.stop()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_the_worker_shuts_down_cleanly_on_a_signal(
    start_worker: WorkerStarter, stop_signal: signal.Signals
) -> None:
    worker, log_path = await start_worker()
    assert worker.process is not None

    worker.process.send_signal(stop_signal)

    assert worker.process.wait(timeout=15) == 0
    log = log_path.read_text()
    assert "Worker stopped" in log
    assert "Traceback" not in log


# run_worker.py as it runs on Windows, where an asyncio loop cannot handle signals.
WITHOUT_LOOP_SIGNAL_HANDLERS = """
import asyncio.unix_events
import runpy
import sys


def refuse(*args: object) -> None:
    print("This loop cannot handle signals", flush=True)
    raise NotImplementedError


asyncio.unix_events._UnixSelectorEventLoop.add_signal_handler = refuse
sys.argv[0] = {script!r}
runpy.run_path({script!r}, run_name="__main__")
"""


async def test_where_the_loop_cannot_handle_signals_ctrl_c_still_stops_the_worker_cleanly(
    start_worker: WorkerStarter, tmp_path: Path
) -> None:
    windows_like = tmp_path / "windows_like_worker.py"
    windows_like.write_text(
        WITHOUT_LOOP_SIGNAL_HANDLERS.format(script=str(PROJECT_DIR / "run_worker.py"))
    )
    worker, log_path = await start_worker(windows_like)
    assert worker.process is not None

    worker.process.send_signal(signal.SIGINT)  # what Ctrl-C sends

    assert worker.process.wait(timeout=15) == 0
    log = log_path.read_text()
    assert "This loop cannot handle signals" in log
    assert "Stopping: finishing the service calls in progress" in log
    assert "Worker stopped" in log
    assert "Traceback" not in log


async def test_a_booking_started_from_the_cli_as_readme_shows(
    dev_server: DevServer, start_worker: WorkerStarter
) -> None:
    await start_worker()
    workflow_id = f"booking-cli-{uuid.uuid4().hex[:8]}"
    booking = {"name": "Grace", "car": "Fiat 500", "hotel": "Ibis", "flight": "AF 12"}
    finished = await asyncio.to_thread(
        subprocess.run,
        [
            venv_binary("temporal"),
            "workflow",
            "execute",
            "--address",
            dev_server.address,
            "--type",
            "BookingWorkflow",
            "--task-queue",
            TASK_QUEUE,
            "--workflow-id",
            workflow_id,
            "--input",
            json.dumps({**booking, "network_delay_seconds": 0}),
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(finished.stdout)["result"]
    assert result["outcome"] == "booked"
    assert sorted(result["booked"]) == ["car", "flight", "hotel"]
