"""The demo's real processes: the Temporal dev server, workers and the web form.

One `ManagedProcess` type starts, waits for, kills and stops each of them. The launcher, the
tests, the soak tool and the benchmarks all use it, because all of them need processes they
can crash (SIGKILL) and start again on the same ports and data files.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, ClassVar

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from launcher.ports import free_port
from runtime import PROJECT_DIR
from runtime.connection import connect, connect_config, task_queue_pollers
from shared import BOOKING_OUTCOME, TASK_QUEUE

Output = IO[bytes] | int | None
"""Where a process's output goes: a file, `subprocess.PIPE` for the caller to read, or nowhere."""


def venv_binary(name: str) -> str:
    """A program installed beside this Python (the virtual environment's bin folder), or on PATH."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"`{name}` is not installed; run `pip install -e '.[test]'` in the virtual environment"
        )
    return found


LIFELINE = Path(__file__).resolve().parent / "lifeline.py"


@functools.cache
def lifeline() -> int:
    """The read end of this process's lifeline pipe (see `launcher/lifeline.py`). Its write end
    stays open, unused, for as long as this process lives: when it ends, however it ends, the
    operating system closes it, and every managed process it started stops."""
    read_end, _write_end = os.pipe()  # neither is inherited unless passed on by name
    return read_end


class ExitedEarly(RuntimeError):
    """A process exited before it was ready."""


START_ATTEMPTS = 3
"""How often a dev server that exits while it starts is started (see `DevServer`)."""


@dataclass(kw_only=True)
class ManagedProcess:
    """A child process in its own process group, so that Ctrl-C in our terminal reaches us
    and not it, and a kill takes whatever it started with it. It runs on a lifeline to this
    process: if this process dies, even by SIGKILL, the child's group stops within 2.5 s."""

    what: ClassVar[str] = "process"
    log: Output = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The child's environment; None inherits ours."""
        return None

    def start(self) -> None:
        read_end = lifeline()
        self.process = subprocess.Popen(
            # The lifeline becomes the command (exec): `pid` is the command's own.
            [sys.executable, "-I", "-S", str(LIFELINE), str(read_end), *self.command()],
            env=self.environment(),
            stdout=subprocess.DEVNULL if self.log is None else self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(read_end,),
        )

    async def wait_until_ready(self, within_seconds: float = 30.0) -> None:
        """Return once the process does its job; raise if it exits first or time runs out."""
        await wait_until(self.is_ready, self.process, self.what, within_seconds)

    async def is_ready(self) -> bool:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the process and its group: a crash, not a shutdown."""
        if self.process is not None and self.running:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, within_seconds: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not stopped in time."""
        if self.process is None or not self.running:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(within_seconds)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass(kw_only=True)
class DevServer(ManagedProcess):
    """`temporal server start-dev` on given ports; `db_filename` keeps its data across restarts."""

    what: ClassVar[str] = "temporal dev server"
    port: int = field(default_factory=free_port)
    ui_port: int | None = None
    db_filename: Path | None = None
    namespace: str = "default"
    log_level: str = "error"
    search_attributes: dict[str, str] = field(
        default_factory=lambda: {BOOKING_OUTCOME.name: "Keyword"}
    )
    """Registered at the start, name to type: the list in the UI filters bookings by outcome."""
    metrics_port: int | None = None
    """Where the server's Prometheus metrics are served (its requests counted by operation);
    None lets the server choose."""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        """The Web UI as the presenter's browser opens it."""
        return f"http://localhost:{self.ui_port}"

    def command(self) -> list[str]:
        command = [
            venv_binary("temporal"),
            *("server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port)),
            *("--namespace", self.namespace, "--log-level", self.log_level),
        ]
        if self.ui_port is None:
            command.append("--headless")
        else:
            # No newsfeed: on stage the UI must not reach out to the internet.
            command += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        if self.db_filename is not None:
            command += ["--db-filename", str(self.db_filename)]
        for name, kind in self.search_attributes.items():
            command += ["--search-attribute", f"{name}={kind}"]
        if self.metrics_port is not None:
            command += ["--metrics-port", str(self.metrics_port)]
        return command

    def start(self) -> None:
        if self.db_filename is not None:
            self.db_filename.parent.mkdir(parents=True, exist_ok=True)
        super().start()

    async def wait_until_ready(self, within_seconds: float = 30.0) -> None:
        """Return once the server serves the namespace. A server that exits while it starts
        is started again, twice at most: `start-dev` picks its other ports (HTTP, metrics,
        its internal services) at random, and one may be taken by the time it binds it."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                await super().wait_until_ready(within_seconds)
                return
            except ExitedEarly:
                if attempt == START_ATTEMPTS:
                    raise
                self.start()

    async def is_ready(self) -> bool:
        """Whether the frontend serves the namespace."""
        client = await Client.connect(self.address, namespace=self.namespace)
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=self.namespace)
        )
        return True

    async def wait_until_ui_ready(self, within_seconds: float = 30.0) -> None:
        """Return once the Web UI answers 200."""
        if self.ui_port is None:
            raise ValueError("this dev server runs headless: it has no Web UI")
        url = f"http://127.0.0.1:{self.ui_port}/"
        await wait_until(
            lambda: asyncio.to_thread(answers_200, url),
            self.process,
            f"Temporal Web UI at {url}",
            within_seconds,
        )


@dataclass(kw_only=True)
class PythonProcess(ManagedProcess):
    """One of our own scripts, told where Temporal is through TEMPORAL_ADDRESS."""

    address: str
    """The Temporal server's address; the rest of the connection (TLS, API key, namespace)
    comes from this process's own environment configuration, as for the script itself."""

    def environment(self) -> dict[str, str]:
        # Unbuffered, so each line a Python child prints shows at once in a piped log.
        return {**os.environ, "TEMPORAL_ADDRESS": self.address, "PYTHONUNBUFFERED": "1"}


@dataclass(kw_only=True)
class WorkerProcess(PythonProcess):
    """`python run_worker.py` with its own ledger file.

    `script` runs another worker with the same command line (the benchmark's no-op worker).
    """

    what: ClassVar[str] = "worker"
    ledger: Path
    service_latency_seconds: float = 0.0
    extra_args: list[str] = field(default_factory=list)
    script: Path = PROJECT_DIR / "run_worker.py"
    task_queue: str = TASK_QUEUE

    def command(self) -> list[str]:
        return [
            sys.executable,
            str(self.script),
            *("--ledger", str(self.ledger)),
            *("--service-latency", str(self.service_latency_seconds)),
            *self.extra_args,
        ]

    async def wait_until_ready(self, within_seconds: float = 30.0) -> None:
        """Return once this very process polls its task queue (a worker that died a minute
        ago still shows in the server's list of pollers, so the check matches the pid)."""
        client: Client | None = None

        async def polling() -> bool:
            nonlocal client
            client = client or await connect({**connect_config(), "target_host": self.address})
            return await self.polls(client)

        await wait_until(polling, self.process, self.what, within_seconds)

    async def polls(self, client: Client) -> bool:
        # A worker's identity is `pid@host` unless it sets another one.
        pollers = await task_queue_pollers(client, self.task_queue)
        return any(identity.startswith(f"{self.pid}@") for identity in pollers)


@dataclass(kw_only=True)
class WebFormProcess(PythonProcess):
    """`python run_workflow.py`, the way the demo script starts it."""

    what: ClassVar[str] = "web form"
    port: int = field(default_factory=free_port)
    temporal_ui: str = "http://localhost:8080"
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            str(PROJECT_DIR / "run_workflow.py"),
            *("--host", self.host, "--port", str(self.port), "--temporal-ui", self.temporal_ui),
        ]

    async def is_ready(self) -> bool:
        """Whether GET / answers 200."""
        return await asyncio.to_thread(answers_200, f"{self.url}/")


def answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status: int = response.status
            return status == 200
    except (urllib.error.URLError, OSError):
        return False


async def wait_until(
    check: Callable[[], Awaitable[bool]],
    process: subprocess.Popen[bytes] | None,
    what: str,
    within_seconds: float,
) -> None:
    """Return once `check()` is true; raise if `process` exits first or time runs out."""
    deadline = time.monotonic() + within_seconds
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ExitedEarly(f"{what}: the process exited with {process.returncode}")
        try:
            if await check():
                return
        except Exception as error:
            last_error = error
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{what}: not ready within {within_seconds:g} s ({last_error})")


@contextlib.asynccontextmanager
async def running(
    *processes: ManagedProcess, within_seconds: float = 60.0, side_by_side: bool = False
) -> AsyncIterator[None]:
    """Start `processes` in order, each ready before the next starts; stop them in reverse
    order when the block ends, also when it fails. `side_by_side` starts them all at once and
    stops them all at once: for processes that do not need each other (a worker and the form)."""
    started: list[ManagedProcess] = []
    try:
        for process in processes:
            process.start()
            started.append(process)
            if not side_by_side:
                await process.wait_until_ready(within_seconds)
        if side_by_side:
            await wait_until_all_ready(started, within_seconds)
        yield
    finally:
        if side_by_side:
            await asyncio.gather(*(asyncio.to_thread(process.stop) for process in started))
        else:
            for process in reversed(started):
                process.stop()


async def wait_until_all_ready(
    processes: Sequence[ManagedProcess], within_seconds: float = 60.0
) -> None:
    """Return once every one of `processes` is ready; raise if one exits first."""
    await asyncio.gather(*(process.wait_until_ready(within_seconds) for process in processes))
